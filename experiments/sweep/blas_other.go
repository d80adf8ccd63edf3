//go:build !openblas

package main

// setBLASThreads is a no-op for pure-Go gonum (single-threaded BLAS).
func setBLASThreads(int) {}
