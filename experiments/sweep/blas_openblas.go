//go:build openblas

package main

// #cgo pkg-config: openblas
// void openblas_set_num_threads(int);
import "C"

import _ "github.com/sgdstability/sgdstab/internal/linalg" // OpenBLAS behind gonum's blas64

// setBLASThreads sets the number of threads OpenBLAS uses for each call. OpenBLAS threads
// busy-wait, so more of them than idle cores slows everything down several times (measured: an
// n = 512 analysis beside two trainers took 170 s instead of 30 s).
func setBLASThreads(n int) { C.openblas_set_num_threads(C.int(n)) }
