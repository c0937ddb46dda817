/* SampleRNN's per-sample loop, compiled: dlwa.samplernn._fast.sample_frame.
 *
 * Inside one frame every sample depends on the one before, so the sample MLP runs once
 * per sample. In Python that is a dozen torch calls per sample; here it is three
 * matrix-vector products and a draw, on the weights Generator hands over as contiguous
 * arrays (see generate.py, which also holds the same loop in torch as the reference).
 *
 * For each sequence b and each time t in [first, stop):
 *   x      = cond[b, t - first] + sum_k tables[k, history[b, t - F + k]]
 *   h1     = relu(w1 x + b1);  h2 = relu(w2 h1 + b2);  logits = wo h2 + bo
 *   history[b, t] = the code where the CDF of softmax(logits / T) passes u * total,
 *                   with T = temperatures[b, t - first], u = uniforms[b, t - first]
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    Py_buffer view;
    int held;
} Arg;

static int get(PyObject *obj, Arg *arg, const char *format, int ndim, int writable,
               const char *name) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, &arg->view, flags) < 0) {
        return -1;
    }
    arg->held = 1;
    if (arg->view.ndim != ndim || strcmp(arg->view.format, format) != 0) {
        PyErr_Format(PyExc_ValueError, "%s: expected a C-contiguous %d-d array of '%s', "
                     "got %d-d of '%s'", name, ndim, format, arg->view.ndim,
                     arg->view.format);
        return -1;
    }
    return 0;
}

static void release(Arg *args, int n) {
    for (int i = 0; i < n; i++) {
        if (args[i].held) {
            PyBuffer_Release(&args[i].view);
        }
    }
}

/* out[o] = relu?(sum_i w[o, i] in[i] + bias[o]) */
static void dense(const float *w, const float *bias, const float *in, float *out,
                  Py_ssize_t n_out, Py_ssize_t n_in, int relu) {
    for (Py_ssize_t o = 0; o < n_out; o++) {
        const float *row = w + o * n_in;
        float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
        for (Py_ssize_t i = 0; i < n_in; i++) {
            acc += row[i] * in[i];
        }
        acc += bias[o];
        out[o] = relu && acc < 0.0f ? 0.0f : acc;
    }
}

static PyObject *sample_frame(PyObject *self, PyObject *args_in) {
    PyObject *objs[11];
    Py_ssize_t first, stop;
    PyObject *uniform_obj, *temp_obj;
    if (!PyArg_ParseTuple(args_in, "OOOOOOOOOnnOO", &objs[0], &objs[1], &objs[2], &objs[3],
                          &objs[4], &objs[5], &objs[6], &objs[7], &objs[8], &first, &stop,
                          &uniform_obj, &temp_obj)) {
        return NULL;
    }
    objs[9] = uniform_obj;
    objs[10] = temp_obj;
    static const char *names[11] = {"tables", "w1", "b1", "w2", "b2", "wo", "bo",
                                    "conditioning", "history", "uniforms", "temperatures"};
    static const char *formats[11] = {"f", "f", "f", "f", "f", "f", "f", "f", "l", "d", "d"};
    static const int ndims[11] = {3, 2, 1, 2, 1, 2, 1, 3, 2, 2, 2};
    Arg a[11];
    memset(a, 0, sizeof(a));
    for (int i = 0; i < 11; i++) {
        if (get(objs[i], &a[i], formats[i], ndims[i], i == 8, names[i]) < 0) {
            release(a, 11);
            return NULL;
        }
    }
    const Py_ssize_t F = a[0].view.shape[0], Q = a[0].view.shape[1], D = a[0].view.shape[2];
    const Py_ssize_t B = a[8].view.shape[0], T = a[8].view.shape[1], N = stop - first;
    const int ok = a[1].view.shape[0] == D && a[1].view.shape[1] == D && a[2].view.shape[0] == D
        && a[3].view.shape[0] == D && a[3].view.shape[1] == D && a[4].view.shape[0] == D
        && a[5].view.shape[0] == Q && a[5].view.shape[1] == D && a[6].view.shape[0] == Q
        && a[7].view.shape[0] == B && a[7].view.shape[1] == N && a[7].view.shape[2] == D
        && a[9].view.shape[0] == B && a[9].view.shape[1] == N
        && a[10].view.shape[0] == B && a[10].view.shape[1] == N
        && first >= F && stop <= T && N >= 0;
    if (!ok) {
        release(a, 11);
        PyErr_SetString(PyExc_ValueError, "sample_frame: array shapes do not agree");
        return NULL;
    }
    const float *tables = a[0].view.buf, *w1 = a[1].view.buf, *b1 = a[2].view.buf;
    const float *w2 = a[3].view.buf, *b2 = a[4].view.buf, *wo = a[5].view.buf;
    const float *bo = a[6].view.buf, *cond = a[7].view.buf;
    int64_t *history = a[8].view.buf;
    const double *uniforms = a[9].view.buf, *temps = a[10].view.buf;
    float *work = malloc(sizeof(float) * (3 * D + Q));
    double *cdf = malloc(sizeof(double) * Q);
    if (work == NULL || cdf == NULL) {
        free(work);
        free(cdf);
        release(a, 11);
        return PyErr_NoMemory();
    }
    float *x = work, *h1 = work + D, *h2 = work + 2 * D, *logits = work + 3 * D;
    int bad_code = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t b = 0; b < B && !bad_code; b++) {
        int64_t *row = history + b * T;
        for (Py_ssize_t i = 0; i < N; i++) {
            const Py_ssize_t t = first + i;
            memcpy(x, cond + (b * N + i) * D, sizeof(float) * D);
            for (Py_ssize_t k = 0; k < F; k++) {
                const int64_t code = row[t - F + k];
                if (code < 0 || code >= Q) {
                    bad_code = 1;
                    break;
                }
                const float *entry = tables + (k * Q + code) * D;
#pragma omp simd
                for (Py_ssize_t d = 0; d < D; d++) {
                    x[d] += entry[d];
                }
            }
            if (bad_code) {
                break;
            }
            dense(w1, b1, x, h1, D, D, 1);
            dense(w2, b2, h1, h2, D, D, 1);
            dense(wo, bo, h2, logits, Q, D, 0);
            double temperature = temps[b * N + i];
            if (temperature < 1e-6) {
                temperature = 1e-6;
            }
            double top = -INFINITY;
            for (Py_ssize_t q = 0; q < Q; q++) {
                const double v = (double)logits[q] / temperature;
                if (v > top) {
                    top = v;
                }
            }
            double total = 0.0;
            for (Py_ssize_t q = 0; q < Q; q++) {
                total += exp((double)logits[q] / temperature - top);
                cdf[q] = total;
            }
            const double target = uniforms[b * N + i] * total;
            Py_ssize_t code = 0;
            while (code < Q - 1 && cdf[code] <= target) {
                code++;
            }
            row[t] = code;
        }
    }
    Py_END_ALLOW_THREADS
    free(work);
    free(cdf);
    release(a, 11);
    if (bad_code) {
        PyErr_SetString(PyExc_ValueError, "sample_frame: a code in history is out of range");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"sample_frame", sample_frame, METH_VARARGS,
     "sample_frame(tables, w1, b1, w2, b2, wo, bo, conditioning, history, first, stop, "
     "uniforms, temperatures): draw history[:, first:stop] one sample after another."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fast",
                                    "SampleRNN's compiled per-sample loop.", -1, methods};

PyMODINIT_FUNC PyInit__fast(void) { return PyModule_Create(&module); }
