package analysis

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestGramMatrix compares the chunked, sparsity-aware Gram matrix with a direct computation on
// matrices with dense, sparse and empty column chunks.
func TestGramMatrix(t *testing.T) {
	rng := rand.New(rand.NewPCG(131, 132))
	rows, cols := 37, 200
	g := make([]float64, rows*cols)
	for x := 0; x < rows; x++ {
		for c := 0; c < cols; c++ {
			switch {
			case c < 60: // dense
				g[x*cols+c] = rng.NormFloat64()
			case c < 120: // a few active rows
				if x%7 == 0 && rng.Float64() < 0.7 {
					g[x*cols+c] = rng.NormFloat64()
				}
			case c < 150: // empty
			default: // about half the rows
				if x%2 == 1 {
					g[x*cols+c] = rng.NormFloat64()
				}
			}
		}
	}
	for _, chunk := range []int{1, 7, 30, 64, 512} {
		fill := func(dst []float64, c0, w int) {
			for x := 0; x < rows; x++ {
				copy(dst[x*w:(x+1)*w], g[x*cols+c0:x*cols+c0+w])
			}
		}
		got := gramMatrix(rows, cols, chunk, fill)
		for a := 0; a < rows; a++ {
			for b := 0; b < rows; b++ {
				want := 0.0
				for c := 0; c < cols; c++ {
					want += g[a*cols+c] * g[b*cols+c]
				}
				if math.Abs(got[a*rows+b]-want) > 1e-12*(1+math.Abs(want)) {
					t.Fatalf("chunk %d: entry (%d,%d) = %v, want %v", chunk, a, b, got[a*rows+b], want)
				}
			}
		}
	}
}

// TestMirrorUpper checks the tiled triangle copy against the definition on sizes around the
// tile width, and that the upper triangle and the diagonal are left alone.
func TestMirrorUpper(t *testing.T) {
	for _, n := range []int{1, 2, 7, 8, 9, 63, 64, 65, 130} {
		m := make([]float64, n*n)
		for i := range m {
			m[i] = float64(i)
		}
		mirrorUpper(m, n)
		for a := 0; a < n; a++ {
			for b := 0; b < n; b++ {
				want := float64(a*n + b)
				if b < a {
					want = float64(b*n + a)
				}
				if m[a*n+b] != want {
					t.Fatalf("n = %d: entry (%d, %d) = %v, want %v", n, a, b, m[a*n+b], want)
				}
			}
		}
	}
}

// TestPackUnpack checks the packed representation of symmetric matrices used by Lanczos: the
// Euclidean inner product of packed vectors is the Frobenius inner product, unpack inverts pack,
// and the scaled forms apply the weights w = cm12 entrywise.
func TestPackUnpack(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, r := range []int{1, 3, 70, packMinRank + 3} { // the last one on two goroutines
		o := &operator{r: r, cm12: make([]float64, r*r)}
		sym := func() []float64 {
			m := make([]float64, r*r)
			for a := 0; a < r; a++ {
				for b := a; b < r; b++ {
					v := rng.NormFloat64()
					m[a*r+b], m[b*r+a] = v, v
				}
			}
			return m
		}
		w := sym()
		for i := range w {
			w[i] = 1 + math.Abs(w[i])
		}
		copy(o.cm12, w)
		m1, m2 := sym(), sym()
		x1, x2 := make([]float64, o.dim()), make([]float64, o.dim())
		o.pack(x1, m1, false)
		o.pack(x2, m2, false)
		dot, frob := 0.0, 0.0
		for i := range x1 {
			dot += x1[i] * x2[i]
		}
		for i := range m1 {
			frob += m1[i] * m2[i]
		}
		if math.Abs(dot-frob) > 1e-12*float64(r*r) {
			t.Errorf("r = %d: packed inner product %v, Frobenius %v", r, dot, frob)
		}
		back := make([]float64, r*r)
		for _, scaled := range []bool{false, true} {
			o.pack(x1, m1, scaled)
			o.unpack(back, x1, scaled)
			for i := range back {
				want := m1[i]
				if scaled {
					want *= w[i] * w[i]
				}
				if math.Abs(back[i]-want) > 1e-12*math.Abs(want)+1e-15 {
					t.Fatalf("r = %d scaled %v: unpack(pack(M))[%d] = %v, want %v", r, scaled, i, back[i], want)
				}
			}
		}
	}
}

// TestNumericalFailuresAreErrors: a failing eigendecomposition inside an operator application
// (here: NaN in S) is an error naming the stage, not a panic, up through the Lanczos iteration.
func TestNumericalFailuresAreErrors(t *testing.T) {
	f := syntheticNetwork(6, 2, 1)
	pr, err := newFactoredProblem(f, Options{}.WithDefaults(), pathAuto)
	if err != nil {
		t.Fatal(err)
	}
	r := pr.r
	s := make([]float64, r*r)
	s[0] = math.NaN()
	if err := pr.curv.sandwich(make([]float64, r*r), s); err == nil || !strings.Contains(err.Error(), "G_0 S G_0^T") {
		t.Errorf("sandwich of NaN: %v", err)
	}
	// the same failure inside the generalized sharpness: break the problem after its basis
	for i := range pr.curv.(*factCurv).b {
		pr.curv.(*factCurv).b[i] = math.NaN()
	}
	if _, err := generalizedSharpness(pr, 0.5, Options{}.WithDefaults()); err == nil || !strings.Contains(err.Error(), "generalized sharpness") {
		t.Errorf("generalized sharpness of a NaN problem: %v", err)
	}
	if _, _, _, err := nonuniformity(pr, 1); err == nil {
		t.Error("nonuniformity of a NaN problem succeeded")
	}
}

// TestSandwichDense checks the factored sandwich (the triangular product and the signed
// rank-k updates) against the dense sum (1/n) sum_i Hh_i S Hh_i with Hh_i = B_i^T B_i formed
// explicitly, on random symmetric (indefinite) S, for the network's shape and for random factors
// with a rank-deficient output Hessian; and the dense input's sandwich against the same sum of
// its Hh_i. Both get S by its upper triangle only (NaN below).
func TestSandwichDense(t *testing.T) {
	rng := rand.New(rand.NewPCG(93, 94))
	dense, err := newDenseProblem(randDense(rng, problemSpec{n: 6, d: 12, k: 2, sub: 9}), Options{}.WithDefaults().RankTol)
	if err != nil {
		t.Fatal(err)
	}
	problems := map[string]*problem{"dense": dense}
	for name, f := range map[string]*Factored{
		"network": syntheticNetwork(40, 10, 5),
		"random":  randFactored(rng, factoredSpec{n: 15, k: 3, d: 90, sub: 40, dead: 5, mRank: 2}),
	} {
		pr, err := newFactoredProblem(f, Options{}.WithDefaults(), pathAuto)
		if err != nil {
			t.Fatal(err)
		}
		problems[name] = pr
	}
	for name, pr := range problems {
		n, r := pr.n, pr.r
		hh := make([][]float64, n)
		switch c := pr.curv.(type) {
		case *factCurv:
			k := c.k
			for i := range hh {
				bi := c.b[i*k*r : (i+1)*k*r]
				hh[i] = make([]float64, r*r)
				for a := 0; a < r; a++ {
					for b := 0; b < r; b++ {
						for x := 0; x < k; x++ {
							hh[i][a*r+b] += bi[x*r+a] * bi[x*r+b]
						}
					}
				}
			}
		case *denseCurv:
			hh = c.h
		}
		s := randSymmetric(rng, r)
		want := make([]float64, r*r)
		for _, hi := range hh {
			hsh := matmul(r, matmul(r, hi, s), hi)
			for a := range want {
				want[a] += hsh[a] / float64(n)
			}
		}
		upper := append([]float64(nil), s...)
		for a := 0; a < r; a++ {
			for b := 0; b < a; b++ {
				upper[a*r+b] = math.NaN()
			}
		}
		got := make([]float64, r*r)
		if err := pr.curv.sandwich(got, upper); err != nil {
			t.Fatal(err)
		}
		mirrorUpper(got, r) // sandwich sets the upper triangle
		num, den := 0.0, 0.0
		for i := range want {
			num += (got[i] - want[i]) * (got[i] - want[i])
			den += want[i] * want[i]
		}
		if e := math.Sqrt(num / den); !(e <= 1e-13) {
			t.Errorf("%s: sandwich differs from the dense sum by %.3g (relative)", name, e)
		}
	}
}
