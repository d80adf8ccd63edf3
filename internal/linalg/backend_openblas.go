//go:build openblas

package linalg

/*
#cgo pkg-config: openblas lapacke
#cgo LDFLAGS: -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <lapacke.h>

char *openblas_get_corename(void);

// sgdstab_select_core re-runs OpenBLAS's kernel selection with OPENBLAS_CORETYPE = core, through
// the entry points of a DYNAMIC_ARCH build (Debian's). It returns 0 if the library has none.
static int sgdstab_select_core(const char *core) {
	void (*quit)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit");
	void (*init)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init");
	if (quit == NULL || init == NULL) {
		return 0;
	}
	setenv("OPENBLAS_CORETYPE", core, 1);
	quit();
	init();
	unsetenv("OPENBLAS_CORETYPE");
	return 1;
}

// sgdstab_thread_timeout restarts OpenBLAS's thread pool with OPENBLAS_THREAD_TIMEOUT = v (the
// environment is restored afterwards): the variable is read once, when the library is loaded,
// and the pool is rebuilt through the entry points its fork handlers use. It returns the
// timeout in effect, or 0 if the library has no such entry points.
static int sgdstab_thread_timeout(const char *v) {
	void (*readenv)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "openblas_read_env");
	int (*timeout)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "openblas_thread_timeout");
	int (*shutdown)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "blas_thread_shutdown_");
	int (*init)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "blas_thread_init");
	if (readenv == NULL || timeout == NULL || shutdown == NULL || init == NULL) {
		return 0;
	}
	setenv("OPENBLAS_THREAD_TIMEOUT", v, 1);
	readenv();
	unsetenv("OPENBLAS_THREAD_TIMEOUT");
	shutdown();
	init();
	return timeout();
}
*/
import "C"

import (
	"os"
	"unsafe"

	"golang.org/x/sys/cpu"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/netlib/blas/netlib"
)

// kernel is the OpenBLAS kernel set in use, and detected the one OpenBLAS chose by itself.
var kernel, detected string

// threadTimeout is the OPENBLAS_THREAD_TIMEOUT set at start-up unless the environment sets one:
// OpenBLAS's idle worker threads spin (sched_yield) for 2^timeout cycles after each call before
// they sleep, 2^28 (about 0.1 s) by default. In the analysis that spinning takes a core from
// the Go code that runs between the large products (the Lanczos orthogonalization over both
// cores, packing, the small per-sample products): measured at n = 512, rank 2048 (2 cores),
// the orthogonalization of the generalized sharpness' 19 Lanczos steps took 0.66-0.69 s with
// the default and 0.38-0.40 s with a timeout of 4 (2^4 cycles), and the whole analysis but the
// covariance limit 5.28-5.55 s (h = 20) and 7.14-7.51 s (h = 100) with the default against
// 5.06-5.15 s and 6.75-6.84 s with 20 (two interleaved rounds; 4 and 16 were within the noise
// of 20). 2^20 cycles (about 0.4 ms) still keeps the threads awake across the back-to-back
// calls of a loop of small products.
const threadTimeout = "20"

// threadTimeoutSet is the timeout in effect when it was set at start-up (0 if it was not: set in
// the environment, or a library without these entry points, such as an OpenMP build).
var threadTimeoutSet int

// backend names the backend with its kernel set, e.g. "openblas/SkylakeX".
func backend() string { return "openblas/" + kernel }

func init() {
	blas64.Use(netlib.Implementation{})
	blas32.Use(netlib.Implementation{})
	detected = C.GoString(C.openblas_get_corename())
	kernel = detected
	if _, set := os.LookupEnv("OPENBLAS_THREAD_TIMEOUT"); !set {
		cs := C.CString(threadTimeout)
		defer C.free(unsafe.Pointer(cs))
		threadTimeoutSet = int(C.sgdstab_thread_timeout(cs))
	}
	if want := betterCore(detected, os.Getenv("OPENBLAS_CORETYPE")); want != "" {
		cs := C.CString(want)
		defer C.free(unsafe.Pointer(cs))
		if C.sgdstab_select_core(cs) != 0 {
			kernel = C.GoString(C.openblas_get_corename())
		}
	}
}

// betterCore returns the kernel set to use instead of the detected one, or "" to keep it.
//
// OpenBLAS (Debian 12 ships 0.3.21) falls back to its generic "Prescott" (SSE3) kernels on a
// processor model it does not know, such as the Xeon model 207 (Emerald Rapids) of the machines
// here: a 2048 x 2048 product then runs at 18-22 GFLOP/s instead of 110-116 GFLOP/s with the
// SkylakeX (AVX-512) kernels. So when the fallback was taken and the processor (and the
// operating system) supports a wider instruction set, the best kernel set for it is chosen.
// An explicit OPENBLAS_CORETYPE is always respected.
func betterCore(detected, forced string) string {
	if forced != "" || detected != "Prescott" {
		return ""
	}
	switch {
	case cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512CD:
		return "SkylakeX"
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return "Haswell"
	case cpu.X86.HasAVX:
		return "Sandybridge"
	}
	return ""
}

// eigSym calls LAPACKE_dsyevd in column-major order. A symmetric matrix is its own transpose, so
// the row-major upper triangle is the column-major lower triangle, and the column-major
// eigenvector columns are the rows of the row-major result.
func eigSym(n int, a, w []float64, vectors bool) bool {
	jobz := C.char('N')
	if vectors {
		jobz = 'V'
	}
	info := C.LAPACKE_dsyevd(C.LAPACK_COL_MAJOR, jobz, C.char('L'), C.lapack_int(n),
		(*C.double)(&a[0]), C.lapack_int(n), (*C.double)(&w[0]))
	return info == 0
}

// cholesky calls LAPACKE_dpotrf in column-major order on the upper triangle, which is the
// row-major lower triangle.
func cholesky(n int, a []float64) bool {
	return C.LAPACKE_dpotrf(C.LAPACK_COL_MAJOR, C.char('U'), C.lapack_int(n), (*C.double)(&a[0]), C.lapack_int(n)) == 0
}

// nativeLevel3 makes SyrkTrans and TrmmRightUpper call the backend's own Syrk and Trmm:
// OpenBLAS's Syrk and Trmm are blocked and run on all cores.
const nativeLevel3 = true
