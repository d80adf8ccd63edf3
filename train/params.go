package train

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Params are the network's weights in the portable layout shared by the whole project:
// W1 is h x D row-major (W1[j*D+p] connects input p to hidden unit j), B1 has h entries, W2 is
// K x h row-major, B2 has K entries. The flat parameter vector w is W1, B1, W2, B2 concatenated.
type Params struct {
	Hidden int       `json:"hidden"`
	W1     []float64 `json:"w1"`
	B1     []float64 `json:"b1"`
	W2     []float64 `json:"w2"`
	B2     []float64 `json:"b2"`
}

// Dims returns the input dimension D and the number of outputs K implied by the blocks.
func (p Params) Dims() (d, k int) {
	if p.Hidden < 1 {
		return 0, 0
	}
	return len(p.W1) / p.Hidden, len(p.B2)
}

// Dim is the number of parameters d = h*D + h + K*h + K.
func (p Params) Dim() int { return len(p.W1) + len(p.B1) + len(p.W2) + len(p.B2) }

// Check reports whether the blocks have the shapes of a D -> h -> K network.
func (p Params) Check(d, k int) error {
	h := p.Hidden
	if h < 1 || len(p.W1) != h*d || len(p.B1) != h || len(p.W2) != k*h || len(p.B2) != k {
		return fmt.Errorf("train: parameters have shapes hidden=%d w1=%d b1=%d w2=%d b2=%d, want a %d -> %d -> %d network (w1=%d b1=%d w2=%d b2=%d)",
			h, len(p.W1), len(p.B1), len(p.W2), len(p.B2), d, h, k, h*d, h, k*h, k)
	}
	return nil
}

// Flat returns the flat parameter vector W1, B1, W2, B2 (a new slice).
func (p Params) Flat() []float64 {
	w := make([]float64, 0, p.Dim())
	w = append(w, p.W1...)
	w = append(w, p.B1...)
	w = append(w, p.W2...)
	return append(w, p.B2...)
}

// ParamsFromFlat splits a flat vector of a D -> h -> K network into blocks (copies).
func ParamsFromFlat(w []float64, d, h, k int) (Params, error) {
	if n := h*d + h + k*h + k; h < 1 || len(w) != n {
		return Params{}, fmt.Errorf("train: flat parameter vector has length %d, want %d for a %d -> %d -> %d network", len(w), n, d, h, k)
	}
	cut := func(n int) []float64 { s := append([]float64(nil), w[:n]...); w = w[n:]; return s }
	return Params{Hidden: h, W1: cut(h * d), B1: cut(h), W2: cut(k * h), B2: cut(k)}, nil
}

// Clone returns a deep copy.
func (p Params) Clone() Params {
	return Params{Hidden: p.Hidden, W1: append([]float64(nil), p.W1...), B1: append([]float64(nil), p.B1...),
		W2: append([]float64(nil), p.W2...), B2: append([]float64(nil), p.B2...)}
}

// InitParams is PyTorch's default initialization of the two nn.Linear layers of a D -> h -> K
// network, scaled: every weight and bias of a layer with fan-in m is factor * U(-1/sqrt(m), 1/sqrt(m))
// (kaiming_uniform with a = sqrt(5) gives exactly this bound for the weights). The draws come from
// PCG(seed, initStream) in the order W1 (row-major), B1, W2 (row-major), B2; the same seed gives the
// same point.
func InitParams(d, h, k int, factor float64, seed uint64) Params {
	rng := rand.New(rand.NewPCG(seed, initStream))
	fill := func(n, fanIn int) []float64 {
		bound := 1 / math.Sqrt(float64(fanIn))
		s := make([]float64, n)
		for i := range s {
			s[i] = factor * bound * (2*rng.Float64() - 1)
		}
		return s
	}
	p := Params{Hidden: h}
	p.W1 = fill(h*d, d)
	p.B1 = fill(h, d)
	p.W2 = fill(k*h, h)
	p.B2 = fill(k, h)
	return p
}

// Second words of the PCG seeds, so that the initialization and the batch sampling never share a
// stream even when InitSeed == Seed.
const (
	initStream   = 0x696e6974_2d706172 // "init-par"
	sampleStream = 0x73616d70_6c652d62 // "sample-b"
)
