// pyext~: classic _dsp/_signal and the chunked streaming extension.
#include "pyext.hpp"

void stream_dsp(Host* h, t_signal** sp) {}
void stream_free(Host* h) {}
PyObject* stream_vec(Host* h, int index, bool out) { Py_RETURN_NONE; }
void stream_report(Host* h) {}
