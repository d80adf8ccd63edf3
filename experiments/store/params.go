package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"codeberg.org/sbinet/npyio"
)

// encodeParams writes a flat parameter vector as a NumPy .npy file (format 1.0, '<f8', shape (d,)).
func encodeParams(w []float64) ([]byte, error) {
	var buf bytes.Buffer
	if err := npyio.Write(&buf, w); err != nil {
		return nil, fmt.Errorf("encoding the parameters: %w", err)
	}
	return buf.Bytes(), nil
}

// decodeParams reads what encodeParams writes, refusing any other element type or shape.
func decodeParams(raw []byte) ([]float64, error) {
	r, err := npyio.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("not a .npy file: %w", err)
	}
	h := r.Header
	if strings.Trim(h.Descr.Type, `'"`) != "<f8" || h.Descr.Fortran || len(h.Descr.Shape) != 1 {
		return nil, fmt.Errorf("params file holds %s of shape %v, want little-endian float64 of shape (d,)", h.Descr.Type, h.Descr.Shape)
	}
	var w []float64
	if err := r.Read(&w); err != nil {
		return nil, fmt.Errorf("reading the parameters: %w", err)
	}
	if len(w) != h.Descr.Shape[0] {
		return nil, fmt.Errorf("params file has %d values, its header says %d", len(w), h.Descr.Shape[0])
	}
	return w, nil
}

// sha is the hex SHA-256 of b.
func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
