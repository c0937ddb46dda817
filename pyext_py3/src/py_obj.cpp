// [py]: call a module-level function or any callable.
#include "pyext.hpp"

void py_obj_setup() {}
