//go:build !openblas

// This file is a modified copy of gonum's Dsyev, Dsytrd, Dlatrd and Dsteqr
// (gonum.org/v1/gonum/lapack/gonum, v0.17.0) and of the upper row-major cases of its Dsymv and
// Dsyr2k (gonum.org/v1/gonum/blas/gonum), used under their license:
//
// Copyright ©2015-2016 The Gonum Authors. All rights reserved.
//
// Redistribution and use in source and binary forms, with or without
// modification, are permitted provided that the following conditions are met:
//     * Redistributions of source code must retain the above copyright
//       notice, this list of conditions and the following disclaimer.
//     * Redistributions in binary form must reproduce the above copyright
//       notice, this list of conditions and the following disclaimer in the
//       documentation and/or other materials provided with the distribution.
//     * Neither the name of the Gonum project nor the names of its authors and
//       contributors may be used to endorse or promote products derived from this
//       software without specific prior written permission.
//
// THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND
// ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED
// WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
// DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE FOR
// ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES
// (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES;
// LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND
// ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT
// (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS
// SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
//
// The modification: the work is spread over all cores, and every entry goes through the same
// operations in the same order as in gonum, so the results are gonum's bit for bit.
//   - The plane rotations of the QL/QR sweeps are applied to the eigenvector matrix by
//     rotateColumns (row by row) in place of Dlasr (column pair by column pair, which in row-major
//     storage touches one cache line per entry). At n = 2048 they were about 85 % of gonum's Dsyev.
//   - The reduction to tridiagonal form (Dsytrd, Dlatrd) calls symvUpper and syr2kUpper, which split
//     gonum's Dsymv and Dsyr2k between the cores by rows of their result.
// Only the cases used here are kept: eigenvectors (Dsyev's jobz = lapack.EVCompute, Dsteqr's
// compz = lapack.EVOrig) of the upper triangle.

package linalg

import (
	"math"
	"runtime"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack"
	"gonum.org/v1/gonum/lapack/gonum"
)

// syevVectors is gonum's Dsyev with jobz = lapack.EVCompute and uplo = blas.Upper on the row-major
// n x n matrix a: the eigenvalues into w (ascending) and the orthonormal eigenvectors into the
// columns of a. ok is false if the QL/QR iteration did not converge.
func syevVectors(n int, a, w []float64) (ok bool) {
	impl := gonum.Implementation{}
	if n == 0 {
		return true
	}
	if n == 1 {
		w[0] = a[0]
		a[0] = 1
		return true
	}
	// Dsyev's optimal workspace: the blocking of Dsytrd and Dorgtr, hence their rounding, depend on it
	nb := impl.Ilaenv(1, "DSYTRD", "U", n, -1, -1, -1)
	lwork := max(1, (nb+2)*n)
	work := make([]float64, lwork)

	safmin := 0x1p-1022 // dlamchS
	eps := 0x1p-52      // dlamchP
	smlnum := safmin / eps
	bignum := 1 / smlnum
	rmin := math.Sqrt(smlnum)
	rmax := math.Sqrt(bignum)

	// Scale matrix to allowable range, if necessary.
	anrm := impl.Dlansy(lapack.MaxAbs, blas.Upper, n, a, n, work)
	scaled := false
	var sigma float64
	if anrm > 0 && anrm < rmin {
		scaled = true
		sigma = rmin / anrm
	} else if anrm > rmax {
		scaled = true
		sigma = rmax / anrm
	}
	if scaled {
		impl.Dlascl(lapack.UpperTri, 0, 0, 1, sigma, n, n, a, n)
	}
	var inde int
	indtau := inde + n
	indwork := indtau + n
	llwork := lwork - indwork
	sytrdUpper(n, a, n, w, work[inde:], work[indtau:], work[indwork:], llwork)
	impl.Dorgtr(blas.Upper, n, a, n, work[indtau:], work[indwork:], llwork)
	if !steqrOrig(n, w, work[inde:], a, n, work[indtau:]) {
		return false
	}

	// If the matrix was scaled, then rescale eigenvalues appropriately.
	if scaled {
		blas64.Implementation().Dscal(n, 1/sigma, w, 1)
	}
	return true
}

// steqrOrig is gonum's Dsteqr with compz = lapack.EVOrig: the eigenvalues (into d, ascending) and
// eigenvectors (the columns of z, which holds on entry the orthogonal matrix of the reduction to
// the tridiagonal matrix with diagonal d and off-diagonal e) by the implicit QL or QR method. work
// has length at least 2n-2. ok is false if an eigenvalue did not converge in 30 n iterations.
func steqrOrig(n int, d, e, z []float64, ldz int, work []float64) (ok bool) {
	impl := gonum.Implementation{}
	if n == 1 {
		return true
	}
	bi := blas64.Implementation()

	eps := 0x1p-53 // dlamchE
	eps2 := eps * eps
	safmin := 0x1p-1022 // dlamchS
	safmax := 1 / safmin
	ssfmax := math.Sqrt(safmax) / 3
	ssfmin := math.Sqrt(safmin) / eps2

	// Compute the eigenvalues and eigenvectors of the tridiagonal matrix.
	const maxit = 30
	nmaxit := n * maxit

	jtot := 0

	// Determine where the matrix splits and choose QL or QR iteration for each
	// block, according to whether top or bottom diagonal element is smaller.
	l1 := 0
	nm1 := n - 1

	type scaletype int
	const (
		down scaletype = iota + 1
		up
	)
	var iscale scaletype

	for {
		if l1 > n-1 {
			// Order eigenvalues and eigenvectors.
			// TODO(btracey): Consider replacing this sort with a call to sort.Sort.
			for ii := 1; ii < n; ii++ {
				i := ii - 1
				k := i
				p := d[i]
				for j := ii; j < n; j++ {
					if d[j] < p {
						k = j
						p = d[j]
					}
				}
				if k != i {
					d[k] = d[i]
					d[i] = p
					bi.Dswap(n, z[i:], ldz, z[k:], ldz)
				}
			}
			return true
		}
		if l1 > 0 {
			e[l1-1] = 0
		}
		var m int
		if l1 <= nm1 {
			for m = l1; m < nm1; m++ {
				test := math.Abs(e[m])
				if test == 0 {
					break
				}
				if test <= (math.Sqrt(math.Abs(d[m]))*math.Sqrt(math.Abs(d[m+1])))*eps {
					e[m] = 0
					break
				}
			}
		}
		l := l1
		lsv := l
		lend := m
		lendsv := lend
		l1 = m + 1
		if lend == l {
			continue
		}

		// Scale submatrix in rows and columns L to Lend
		anorm := impl.Dlanst(lapack.MaxAbs, lend-l+1, d[l:], e[l:])
		switch {
		case anorm == 0:
			continue
		case anorm > ssfmax:
			iscale = down
			// Pretend that d and e are matrices with 1 column.
			impl.Dlascl(lapack.General, 0, 0, anorm, ssfmax, lend-l+1, 1, d[l:], 1)
			impl.Dlascl(lapack.General, 0, 0, anorm, ssfmax, lend-l, 1, e[l:], 1)
		case anorm < ssfmin:
			iscale = up
			impl.Dlascl(lapack.General, 0, 0, anorm, ssfmin, lend-l+1, 1, d[l:], 1)
			impl.Dlascl(lapack.General, 0, 0, anorm, ssfmin, lend-l, 1, e[l:], 1)
		}

		// Choose between QL and QR.
		if math.Abs(d[lend]) < math.Abs(d[l]) {
			lend = lsv
			l = lendsv
		}
		if lend > l {
			// QL Iteration. Look for small subdiagonal element.
			for {
				if l != lend {
					for m = l; m < lend; m++ {
						v := math.Abs(e[m])
						if v*v <= (eps2*math.Abs(d[m]))*math.Abs(d[m+1])+safmin {
							break
						}
					}
				} else {
					m = lend
				}
				if m < lend {
					e[m] = 0
				}
				p := d[l]
				if m == l {
					// Eigenvalue found.
					l++
					if l > lend {
						break
					}
					continue
				}

				// If remaining matrix is 2×2, use Dlae2 to compute its eigensystem.
				if m == l+1 {
					d[l], d[l+1], work[l], work[n-1+l] = impl.Dlaev2(d[l], e[l], d[l+1])
					rotateColumns(false, n, 2, work[l:], work[n-1+l:], z[l:], ldz)
					e[l] = 0
					l += 2
					if l > lend {
						break
					}
					continue
				}

				if jtot == nmaxit {
					break
				}
				jtot++

				// Form shift
				g := (d[l+1] - p) / (2 * e[l])
				r := impl.Dlapy2(g, 1)
				g = d[m] - p + e[l]/(g+math.Copysign(r, g))
				s := 1.0
				c := 1.0
				p = 0.0

				// Inner loop
				for i := m - 1; i >= l; i-- {
					f := s * e[i]
					b := c * e[i]
					c, s, r = impl.Dlartg(g, f)
					if i != m-1 {
						e[i+1] = r
					}
					g = d[i+1] - p
					r = (d[i]-g)*s + 2*c*b
					p = s * r
					d[i+1] = g + p
					g = c*r - b

					// Save the rotations.
					work[i] = c
					work[n-1+i] = -s
				}
				// Apply the saved rotations to the eigenvectors.
				mm := m - l + 1
				rotateColumns(false, n, mm, work[l:], work[n-1+l:], z[l:], ldz)
				d[l] -= p
				e[l] = g
			}
		} else {
			// QR Iteration.
			// Look for small superdiagonal element.
			for {
				if l != lend {
					for m = l; m > lend; m-- {
						v := math.Abs(e[m-1])
						if v*v <= (eps2*math.Abs(d[m])*math.Abs(d[m-1]) + safmin) {
							break
						}
					}
				} else {
					m = lend
				}
				if m > lend {
					e[m-1] = 0
				}
				p := d[l]
				if m == l {
					// Eigenvalue found
					l--
					if l < lend {
						break
					}
					continue
				}

				// If remaining matrix is 2×2, use Dlae2 to compute its eigenvalues.
				if m == l-1 {
					d[l-1], d[l], work[m], work[n-1+m] = impl.Dlaev2(d[l-1], e[l-1], d[l])
					rotateColumns(true, n, 2, work[m:], work[n-1+m:], z[l-1:], ldz)
					e[l-1] = 0
					l -= 2
					if l < lend {
						break
					}
					continue
				}
				if jtot == nmaxit {
					break
				}
				jtot++

				// Form shift.
				g := (d[l-1] - p) / (2 * e[l-1])
				r := impl.Dlapy2(g, 1)
				g = d[m] - p + (e[l-1])/(g+math.Copysign(r, g))
				s := 1.0
				c := 1.0
				p = 0.0

				// Inner loop.
				for i := m; i < l; i++ {
					f := s * e[i]
					b := c * e[i]
					c, s, r = impl.Dlartg(g, f)
					if i != m {
						e[i-1] = r
					}
					g = d[i] - p
					r = (d[i+1]-g)*s + 2*c*b
					p = s * r
					d[i] = g + p
					g = c*r - b

					// Save the rotations.
					work[i] = c
					work[n-1+i] = s
				}

				// Apply the saved rotations to the eigenvectors.
				mm := l - m + 1
				rotateColumns(true, n, mm, work[m:], work[n-1+m:], z[m:], ldz)
				d[l] -= p
				e[l-1] = g
			}
		}

		// Undo scaling if necessary.
		switch iscale {
		case down:
			// Pretend that d and e are matrices with 1 column.
			impl.Dlascl(lapack.General, 0, 0, ssfmax, anorm, lendsv-lsv+1, 1, d[lsv:], 1)
			impl.Dlascl(lapack.General, 0, 0, ssfmax, anorm, lendsv-lsv, 1, e[lsv:], 1)
		case up:
			impl.Dlascl(lapack.General, 0, 0, ssfmin, anorm, lendsv-lsv+1, 1, d[lsv:], 1)
			impl.Dlascl(lapack.General, 0, 0, ssfmin, anorm, lendsv-lsv, 1, e[lsv:], 1)
		}

		// Check for no convergence to an eigenvalue after a total of n*maxit iterations.
		if jtot >= nmaxit {
			break
		}
	}
	for i := 0; i < n-1; i++ {
		if e[i] != 0 {
			return false
		}
	}
	return true
}

// rotateColumns applies to the m x n row-major matrix a the plane rotations of Dlasr with
// side = blas.Right and pivot = lapack.Variable: rotation j (c[j], s[j]) acts on columns j and
// j+1 of every row, for j = 0, ..., n-2 if forward, else n-2, ..., 0:
//
//	a[i][j+1], a[i][j] = c a[i][j+1] - s a[i][j],  s a[i][j+1] + c a[i][j]
//
// Rotations of different rows are independent, so each row takes the whole sequence at once
// (contiguous in memory, where Dlasr walks a column pair down all rows per rotation), and the
// rows are split between the cores. Every entry goes through Dlasr's operations in Dlasr's
// order, including its skip of rotations with c = 1 and s = 0.
func rotateColumns(forward bool, m, n int, c, s, a []float64, lda int) {
	if m == 0 || n < 2 {
		return
	}
	workers := min(runtime.GOMAXPROCS(0), m/rotateMinRows)
	if m*n < rotateMinWork {
		workers = 1
	}
	Parallel(workers, func(w int) int { return w * m / workers }, func(lo, hi int) {
		rotateRows(forward, lo, hi, n, c, s, a, lda)
	})
}

// rotateMinRows and rotateMinWork: rotateColumns splits its rows between the cores only with at
// least rotateMinRows rows per core and rotateMinWork entries in all.
const (
	rotateMinRows = 64
	rotateMinWork = 1 << 15
)

// rotateRows is rotateColumns on rows lo to hi-1. Each row carries the entry that the next
// rotation reads back in a register, and four rows go through the sequence together, so that
// the four chains of dependent multiplications overlap.
func rotateRows(forward bool, lo, hi, n int, c, s, a []float64, lda int) {
	c, s = c[:n-1], s[:n-1]
	i := lo
	for ; i+4 <= hi; i += 4 {
		r0 := a[i*lda : i*lda+n]
		r1 := a[(i+1)*lda : (i+1)*lda+n]
		r2 := a[(i+2)*lda : (i+2)*lda+n]
		r3 := a[(i+3)*lda : (i+3)*lda+n]
		if forward {
			x0, x1, x2, x3 := r0[0], r1[0], r2[0], r3[0] // entry j of each row, rotated up to j-1
			for j := 0; j < n-1; j++ {
				ctmp, stmp := c[j], s[j]
				t0, t1, t2, t3 := r0[j+1], r1[j+1], r2[j+1], r3[j+1]
				if ctmp != 1 || stmp != 0 {
					r0[j], x0 = stmp*t0+ctmp*x0, ctmp*t0-stmp*x0
					r1[j], x1 = stmp*t1+ctmp*x1, ctmp*t1-stmp*x1
					r2[j], x2 = stmp*t2+ctmp*x2, ctmp*t2-stmp*x2
					r3[j], x3 = stmp*t3+ctmp*x3, ctmp*t3-stmp*x3
				} else {
					r0[j], x0 = x0, t0
					r1[j], x1 = x1, t1
					r2[j], x2 = x2, t2
					r3[j], x3 = x3, t3
				}
			}
			r0[n-1], r1[n-1], r2[n-1], r3[n-1] = x0, x1, x2, x3
			continue
		}
		x0, x1, x2, x3 := r0[n-1], r1[n-1], r2[n-1], r3[n-1] // entry j+1, rotated down to j+1
		for j := n - 2; j >= 0; j-- {
			ctmp, stmp := c[j], s[j]
			t0, t1, t2, t3 := r0[j], r1[j], r2[j], r3[j]
			if ctmp != 1 || stmp != 0 {
				r0[j+1], x0 = ctmp*x0-stmp*t0, stmp*x0+ctmp*t0
				r1[j+1], x1 = ctmp*x1-stmp*t1, stmp*x1+ctmp*t1
				r2[j+1], x2 = ctmp*x2-stmp*t2, stmp*x2+ctmp*t2
				r3[j+1], x3 = ctmp*x3-stmp*t3, stmp*x3+ctmp*t3
			} else {
				r0[j+1], x0 = x0, t0
				r1[j+1], x1 = x1, t1
				r2[j+1], x2 = x2, t2
				r3[j+1], x3 = x3, t3
			}
		}
		r0[0], r1[0], r2[0], r3[0] = x0, x1, x2, x3
	}
	for ; i < hi; i++ {
		row := a[i*lda : i*lda+n]
		if forward {
			for j := 0; j < n-1; j++ {
				ctmp, stmp := c[j], s[j]
				if ctmp != 1 || stmp != 0 {
					tmp := row[j+1]
					tmp2 := row[j]
					row[j+1] = ctmp*tmp - stmp*tmp2
					row[j] = stmp*tmp + ctmp*tmp2
				}
			}
			continue
		}
		for j := n - 2; j >= 0; j-- {
			ctmp, stmp := c[j], s[j]
			if ctmp != 1 || stmp != 0 {
				tmp := row[j+1]
				tmp2 := row[j]
				row[j+1] = ctmp*tmp - stmp*tmp2
				row[j] = stmp*tmp + ctmp*tmp2
			}
		}
	}
}

// sytrdUpper is gonum's Dsytrd with uplo = blas.Upper (the reduction of the symmetric a to
// tridiagonal form Q^T A Q, in blocks of nb columns by latrdUpper and syr2kUpper, the last block
// by Dsytd2), lwork >= n nb for the blocked code.
func sytrdUpper(n int, a []float64, lda int, d, e, tau, work []float64, lwork int) {
	impl := gonum.Implementation{}
	if n == 0 {
		return
	}
	nb := impl.Ilaenv(1, "DSYTRD", "U", n, -1, -1, -1)
	nx := n
	if 1 < nb && nb < n {
		// Determine when to cross over from blocked to unblocked code. The last
		// block is always handled by unblocked code.
		nx = max(nb, impl.Ilaenv(3, "DSYTRD", "U", n, -1, -1, -1))
		if nx < n {
			// Determine if workspace is large enough for blocked code.
			if lwork < n*nb {
				nb = max(lwork/n, 1)
				nbmin := impl.Ilaenv(2, "DSYTRD", "U", n, -1, -1, -1)
				if nb < nbmin {
					nx = n
				}
			}
		} else {
			nx = n
		}
	} else {
		nb = 1
	}
	ldwork := nb

	// Reduce the upper triangle of A. Columns 0:kk are handled by the unblocked method.
	var i int
	kk := n - ((n-nx+nb-1)/nb)*nb
	for i = n - nb; i >= kk; i -= nb {
		// Reduce columns i:i+nb to tridiagonal form and form the matrix W
		// which is needed to update the unreduced part of the matrix.
		latrdUpper(i+nb, nb, a, lda, e, tau, work, ldwork)

		// Update the unreduced submatrix A[0:i-1,0:i-1], using an update
		// of the form A = A - V*Wᵀ - W*Vᵀ.
		syr2kUpper(i, nb, -1, a[i:], lda, work, ldwork, a, lda)

		// Copy superdiagonal elements back into A, and diagonal elements into D.
		for j := i; j < i+nb; j++ {
			a[(j-1)*lda+j] = e[j-1]
			d[j] = a[j*lda+j]
		}
	}
	// Use unblocked code to reduce the last or only block.
	impl.Dsytd2(blas.Upper, kk, a, lda, d, e, tau)
}

// latrdUpper is gonum's Dlatrd with uplo = blas.Upper: it reduces the last nb rows and columns of
// the n x n a to tridiagonal form and returns in w the n x nb matrix W for the update of the rest.
func latrdUpper(n, nb int, a []float64, lda int, e, tau, w []float64, ldw int) {
	impl := gonum.Implementation{}
	if n == 0 {
		return
	}
	bi := blas64.Implementation()
	for i := n - 1; i >= n-nb; i-- {
		iw := i - n + nb
		if i < n-1 {
			// Update A(0:i, i).
			bi.Dgemv(blas.NoTrans, i+1, n-i-1, -1, a[i+1:], lda,
				w[i*ldw+iw+1:], 1, 1, a[i:], lda)
			bi.Dgemv(blas.NoTrans, i+1, n-i-1, -1, w[iw+1:], ldw,
				a[i*lda+i+1:], 1, 1, a[i:], lda)
		}
		if i > 0 {
			// Generate elementary reflector H_i to annihilate A(0:i-2,i).
			e[i-1], tau[i-1] = impl.Dlarfg(i, a[(i-1)*lda+i], a[i:], lda)
			a[(i-1)*lda+i] = 1

			// Compute W(0:i-1, i).
			symvUpper(i, a, lda, a[i:], lda, w[iw:], ldw)
			if i < n-1 {
				bi.Dgemv(blas.Trans, i, n-i-1, 1, w[iw+1:], ldw,
					a[i:], lda, 0, w[(i+1)*ldw+iw:], ldw)
				bi.Dgemv(blas.NoTrans, i, n-i-1, -1, a[i+1:], lda,
					w[(i+1)*ldw+iw:], ldw, 1, w[iw:], ldw)
				bi.Dgemv(blas.Trans, i, n-i-1, 1, a[i+1:], lda,
					a[i:], lda, 0, w[(i+1)*ldw+iw:], ldw)
				bi.Dgemv(blas.NoTrans, i, n-i-1, -1, w[iw+1:], ldw,
					w[(i+1)*ldw+iw:], ldw, 1, w[iw:], ldw)
			}
			bi.Dscal(i, tau[i-1], w[iw:], ldw)
			alpha := -0.5 * tau[i-1] * bi.Ddot(i, w[iw:], ldw, a[i:], lda)
			bi.Daxpy(i, alpha, a[i:], lda, w[iw:], ldw)
		}
	}
}

// parallelMinOrder is the order below which symvUpper and syr2kUpper stay on one core.
const parallelMinOrder = 256

// symvUpper sets y = A x for the symmetric n x n A given by the upper triangle of a (x and y with
// strides incX, incY > 0): gonum's Dsymv with uplo = blas.Upper, alpha = 1 and beta = 0. gonum
// adds to y_j, in the order of the rows i < j, the terms x_i a_ij, then the dot product of row j
// with x; the entries of y are split between the cores in two (or more) contiguous ranges, and
// each core goes through the rows up to the end of its range in that order, so every entry gets
// the same sums in the same order.
func symvUpper(n int, a []float64, lda int, x []float64, incX int, y []float64, incY int) {
	if n == 0 {
		return
	}
	if n == 1 {
		// gonum: y = beta y = 0, then y += alpha a x (so a product -0 gives +0)
		y[0] = 0 + a[0]*x[0]
		return
	}
	xs, ys := make([]float64, n), make([]float64, n)
	for i := range xs {
		xs[i] = x[i*incX]
	}
	workers := max(1, min(runtime.GOMAXPROCS(0), n/parallelMinOrder))
	Parallel(workers, func(w int) int { return w * n / workers }, func(lo, hi int) {
		symvUpperRange(n, a, lda, xs, ys, lo, hi)
	})
	for i, v := range ys {
		y[i*incY] = v
	}
}

// symvUpperRange computes the entries j0 <= j < j1 of y = A x (y zero on entry).
func symvUpperRange(n int, a []float64, lda int, x, y []float64, j0, j1 int) {
	const alpha = 1.0
	for i := 0; i < j1; i++ {
		xv := x[i] * alpha
		row := a[i*lda : i*lda+n]
		if i < j0 {
			for j := j0; j < j1; j++ {
				y[j] += xv * row[j]
			}
			continue
		}
		sum := x[i] * row[i]
		for j := i + 1; j < j1; j++ {
			v := row[j]
			sum += x[j] * v
			y[j] += xv * v
		}
		for j := j1; j < n; j++ {
			sum += x[j] * row[j]
		}
		y[i] += alpha * sum
	}
}

// syr2kUpper sets the upper triangle of the n x n c to alpha (A B^T + B A^T) + c for the n x k a
// and b: gonum's Dsyr2k with uplo = blas.Upper, trans = blas.NoTrans and beta = 1, whose rows are
// independent; they are split between the cores into ranges of equal work.
func syr2kUpper(n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, c []float64, ldc int) {
	if n == 0 {
		return
	}
	workers := max(1, min(runtime.GOMAXPROCS(0), n/parallelMinOrder))
	if k == 0 {
		workers = 1
	}
	// row i has n - i entries: the w-th range starts where the rows before it hold w/workers of
	// the n(n+1)/2 entries, n - i0 = n sqrt(1 - w/workers)
	start := func(w int) int { return n - int(math.Round(float64(n)*math.Sqrt(1-float64(w)/float64(workers)))) }
	Parallel(workers, start, func(lo, hi int) {
		syr2kUpperRows(n, k, alpha, a, lda, b, ldb, c, ldc, lo, hi)
	})
}

// syr2kUpperRows is syr2kUpper on the rows i0 <= i < i1.
func syr2kUpperRows(n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, c []float64, ldc int, i0, i1 int) {
	const beta = 1.0
	for i := i0; i < i1; i++ {
		atmp := a[i*lda : i*lda+k]
		btmp := b[i*ldb : i*ldb+k]
		ctmp := c[i*ldc+i : i*ldc+n]
		for jc := range ctmp {
			j := i + jc
			var tmp1, tmp2 float64
			binner := b[j*ldb : j*ldb+k]
			for l, v := range a[j*lda : j*lda+k] {
				tmp1 += v * btmp[l]
				tmp2 += atmp[l] * binner[l]
			}
			ctmp[jc] *= beta
			ctmp[jc] += alpha * (tmp1 + tmp2)
		}
	}
}
