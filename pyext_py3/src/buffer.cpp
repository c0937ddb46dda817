// pyext.Buffer
#include "pyext.hpp"
bool buffer_ready(PyObject* module) { return true; }
