package data

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
)

// Selection says which MNIST training images form the data set. The zero value of every field
// except Classes and PerClass means the default.
type Selection struct {
	// Classes are the digits to keep, in the order of the one-hot target coordinates.
	// Default (nil): 0, 1, 2, 3.
	Classes []int `json:"classes" yaml:"classes"`
	// PerClass is the number of images taken of each class. Default (0): 128.
	PerClass int `json:"per_class" yaml:"per_class"`
	// Random selects PerClass images of each class uniformly at random (seeded by Seed) instead
	// of the first PerClass in the training file's order.
	Random bool   `json:"random,omitempty" yaml:"random"`
	Seed   uint64 `json:"seed,omitempty" yaml:"seed"`
	// Dir overrides where the MNIST files are looked for (see Locate). It does not change which
	// images are selected, so it is not part of a run's identity.
	Dir string `json:"-" yaml:"-"`
}

// DefaultSelection is the paper's subset as this project reproduces it: digits 0-3, the first 128
// images of each in the training file, n = 512.
func DefaultSelection() Selection { return Selection{Classes: []int{0, 1, 2, 3}, PerClass: 128} }

// withDefaults fills in the defaults of unset fields.
func (s Selection) withDefaults() Selection {
	if s.Classes == nil {
		s.Classes = []int{0, 1, 2, 3}
	}
	if s.PerClass == 0 {
		s.PerClass = 128
	}
	return s
}

// Validate reports the first problem with the selection, before any file is read.
func (s Selection) Validate() error {
	s = s.withDefaults()
	if len(s.Classes) == 0 {
		return errors.New("data: selection has no classes")
	}
	seen := map[int]bool{}
	for _, c := range s.Classes {
		if c < 0 || c > 9 {
			return fmt.Errorf("data: unknown class %d (MNIST digits are 0..9)", c)
		}
		if seen[c] {
			return fmt.Errorf("data: class %d listed twice", c)
		}
		seen[c] = true
	}
	if s.PerClass < 1 {
		return fmt.Errorf("data: per-class count %d, want at least 1", s.PerClass)
	}
	return nil
}

// Dataset is a labelled subset of MNIST in plain slices. Samples appear in the order of the
// training file.
type Dataset struct {
	N int // number of samples
	D int // input dimension (784)
	K int // number of classes = output dimension
	// X holds the images row-major, N x D, pixel values scaled to [0, 1] (byte / 255).
	X []float64
	// Y holds the one-hot targets row-major, N x K; coordinate j stands for Classes[j].
	Y []float64
	// Labels are the digits (0..9); Class are their coordinates in Classes.
	Labels, Class []int
	// Source are the images' indices in the MNIST training file, for provenance.
	Source []int
	// Classes are the selected digits.
	Classes []int
}

// Row returns sample i's image (a view into X).
func (d *Dataset) Row(i int) []float64 { return d.X[i*d.D : (i+1)*d.D] }

// Target returns sample i's one-hot target (a view into Y).
func (d *Dataset) Target(i int) []float64 { return d.Y[i*d.K : (i+1)*d.K] }

// Checksum is a SHA-256 over the source indices, labels and pixel values: two data sets with the
// same checksum hold the same samples in the same order.
func (d *Dataset) Checksum() string {
	h := sha256.New()
	var b [8]byte
	for i := 0; i < d.N; i++ {
		binary.LittleEndian.PutUint64(b[:], uint64(d.Source[i]))
		h.Write(b[:])
		binary.LittleEndian.PutUint64(b[:], uint64(d.Labels[i]))
		h.Write(b[:])
	}
	for _, v := range d.X {
		binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
		h.Write(b[:])
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// Load reads the MNIST training files and returns the selected subset.
func Load(sel Selection) (*Dataset, error) {
	if err := sel.Validate(); err != nil {
		return nil, err
	}
	sel = sel.withDefaults()
	dir, err := Locate(sel.Dir)
	if err != nil {
		return nil, err
	}
	nImg, pixels, err := readIDX(filepath.Join(dir, imagesFile), imageMagic, Pixels)
	if err != nil {
		return nil, err
	}
	nLab, labels, err := readIDX(filepath.Join(dir, labelsFile), labelMagic, 1)
	if err != nil {
		return nil, err
	}
	if nImg != nLab {
		return nil, fmt.Errorf("data: %s holds %d images but %s %d labels", imagesFile, nImg, labelsFile, nLab)
	}
	byClass := make(map[int][]int)
	for i, l := range labels {
		if l > 9 {
			return nil, fmt.Errorf("data: %s: label %d of image %d is not a digit (corrupt file?)", labelsFile, l, i)
		}
		byClass[int(l)] = append(byClass[int(l)], i)
	}
	var chosen []int
	for _, c := range sel.Classes {
		idx := byClass[c]
		if len(idx) < sel.PerClass {
			return nil, fmt.Errorf("data: class %d has %d training images, %d requested", c, len(idx), sel.PerClass)
		}
		if sel.Random {
			idx = slices.Clone(idx)
			r := rand.New(rand.NewPCG(sel.Seed, uint64(c)))
			r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		}
		chosen = append(chosen, idx[:sel.PerClass]...)
	}
	slices.Sort(chosen)

	coord := make(map[int]int, len(sel.Classes))
	for j, c := range sel.Classes {
		coord[c] = j
	}
	k := len(sel.Classes)
	ds := &Dataset{
		N: len(chosen), D: Pixels, K: k,
		X:       make([]float64, len(chosen)*Pixels),
		Y:       make([]float64, len(chosen)*k),
		Labels:  make([]int, len(chosen)),
		Class:   make([]int, len(chosen)),
		Source:  chosen,
		Classes: slices.Clone(sel.Classes),
	}
	for i, src := range chosen {
		for p, v := range pixels[src*Pixels : (src+1)*Pixels] {
			ds.X[i*Pixels+p] = float64(v) / 255
		}
		l := int(labels[src])
		ds.Labels[i] = l
		ds.Class[i] = coord[l]
		ds.Y[i*k+coord[l]] = 1
	}
	return ds, nil
}
