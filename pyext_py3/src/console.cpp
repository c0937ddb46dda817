// Console output: lines from any thread reach Pd's console on Pd's thread, in order.
// The Python side (sys.stdout/sys.stderr as io.TextIOBase) lives in module_py.cpp and
// calls pyext._post(line, level) for each whole line.
#include "pyext.hpp"

#include <cstdarg>
#include <cstdio>

void console_post(const std::string& text, int level) {
    if (on_pd_thread()) {
        if (level > 0)
            pd_error(nullptr, "%s", text.c_str());
        else
            post("%s", text.c_str());
        return;
    }
    out_post(std::string(text), level);
}

void console_postf(int level, const char* fmt, ...) {
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    console_post(buf, level);
}
