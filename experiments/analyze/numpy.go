package main

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"codeberg.org/sbinet/npyio/npy"

	"github.com/sgdstability/sgdstab/analysis"
)

// The NumPy input of -in: an .npz archive (stored or deflated members NAME.npy) or a directory
// of NAME.npy files, with the arrays
//
//	jacobians (n, k, d) + output_hessian (k, k) or (n, k, k)   factored form, H_i = J_i^T M_i J_i
//	hessians (n, d, d)                                         dense form
//	gradients (n, d)                                           optional
//	output_gradients (n, k)                                    optional, with jacobians and
//	                                                           gradients: q_i with g_i = J_i^T q_i
//	batch_size () or (m,), integer                             optional (else -batch)
//	eta () or (1,)                                             optional (else -eta)
//
// float32 or float64 (either byte order), C or Fortran order. Each array is decoded straight
// from the file into the row-major layout package analysis uses (J_i = jacobians[i] as k x d):
// one allocation per array, no second copy.

// numpyArrays lists the arrays the NumPy input may hold.
var numpyArrays = []string{"jacobians", "output_hessian", "hessians", "gradients", "output_gradients", "batch_size", "eta"}

// member is one array of the input: a reader of its .npy bytes and their length.
type member struct {
	open func() (io.ReadCloser, error)
	size int64
}

// maxHeader bounds the .npy header length (numpy writes 64-byte aligned headers of a few
// hundred bytes).
const maxHeader = 1 << 16

// npyHeader is a parsed .npy header.
type npyHeader struct {
	kind    byte // 'f', 'i' or 'u'
	size    int  // bytes per element
	order   binary.ByteOrder
	fortran bool
	shape   []int
	offset  int64 // bytes before the data
}

// readHeader reads and checks a .npy header (magic, version, dictionary) with npyio's parser,
// after bounds checks that keep a corrupt header from reaching it.
func readHeader(r io.Reader, name string) (*npyHeader, error) {
	pre := make([]byte, 12)
	if _, err := io.ReadFull(r, pre[:10]); err != nil {
		return nil, fmt.Errorf("%s: truncated .npy header: %v", name, err)
	}
	if !bytes.Equal(pre[:6], []byte(npy.Magic[:])) {
		return nil, fmt.Errorf("%s: not a .npy array (bad magic bytes)", name)
	}
	var hlen, plen int
	switch pre[6] {
	case 1:
		hlen, plen = int(binary.LittleEndian.Uint16(pre[8:10])), 10
	case 2, 3:
		if _, err := io.ReadFull(r, pre[10:12]); err != nil {
			return nil, fmt.Errorf("%s: truncated .npy header: %v", name, err)
		}
		hlen, plen = int(binary.LittleEndian.Uint32(pre[8:12])), 12
	default:
		return nil, fmt.Errorf("%s: unsupported .npy format version %d.%d", name, pre[6], pre[7])
	}
	if hlen > maxHeader {
		return nil, fmt.Errorf("%s: corrupt .npy header (length %d)", name, hlen)
	}
	dict := make([]byte, hlen)
	if _, err := io.ReadFull(r, dict); err != nil {
		return nil, fmt.Errorf("%s: truncated .npy header: %v", name, err)
	}
	// npyio's parser slices between the keys: insist on numpy's layout first
	body := string(dict)
	iD, iO, iS, iE := strings.Index(body, "'descr': "), strings.Index(body, "'fortran_order': "), strings.Index(body, "'shape': "), strings.LastIndex(body, "}")
	if !strings.HasSuffix(strings.TrimRight(body, " "), "\n") || iD < 0 || iO < iD+len("'descr': ")+2 || iS < iO+len("'fortran_order': ")+2 ||
		iE < iS+len("'shape': ")+4 || !strings.HasPrefix(body[iS+len("'shape': "):], "(") {
		return nil, fmt.Errorf("%s: corrupt .npy header %q", name, strings.TrimSpace(body))
	}
	rd, err := npy.NewReader(io.MultiReader(bytes.NewReader(pre[:plen]), bytes.NewReader(dict)))
	if err != nil {
		return nil, fmt.Errorf("%s: corrupt .npy header: %v", name, err)
	}
	h := &npyHeader{fortran: rd.Header.Descr.Fortran, shape: rd.Header.Descr.Shape, offset: int64(plen + hlen)}
	dt := strings.Trim(rd.Header.Descr.Type, "'\"")
	if len(dt) != 3 || !strings.ContainsRune("fiu", rune(dt[1])) || !strings.ContainsRune("1248", rune(dt[2])) {
		return nil, fmt.Errorf("%s: dtype %q is not supported (want float32 or float64, integers for batch_size)", name, dt)
	}
	switch dt[0] {
	case '<', '|', '=':
		h.order = binary.LittleEndian
	case '>':
		h.order = binary.BigEndian
	default:
		return nil, fmt.Errorf("%s: dtype %q has an unknown byte order", name, dt)
	}
	h.kind, h.size = dt[1], int(dt[2]-'0')
	if h.kind == 'f' && h.size < 4 {
		return nil, fmt.Errorf("%s: dtype %q (float16) is not supported: use float32 or float64", name, dt)
	}
	for _, s := range h.shape {
		if s < 0 {
			return nil, fmt.Errorf("%s: negative dimension in shape %v", name, h.shape)
		}
	}
	return h, nil
}

// elements returns the element count of shape, or -1 if it exceeds limit.
func elements(shape []int, limit int64) int64 {
	n := int64(1)
	for _, s := range shape {
		if s != 0 && n > limit/int64(s) {
			return -1
		}
		n *= int64(s)
	}
	return n
}

// readData decodes the h.shape array that follows the header in r into dst (row-major, length
// the element count), converting Fortran order on the fly, and checks that the member ends
// there (which also verifies a zip member's checksum). Non-finite floats are errors naming the
// entry.
func readData(r io.Reader, h *npyHeader, dst []float64, name string) error {
	nd := len(h.shape)
	idx := make([]int, nd)
	cs := make([]int, nd) // row-major strides
	st := 1
	for a := nd - 1; a >= 0; a-- {
		cs[a] = st
		st *= h.shape[a]
	}
	buf := make([]byte, 1<<16-(1<<16)%h.size)
	t, off := 0, 0 // element count, row-major offset of the next element
	for t < len(dst) {
		m := min(len(buf)/h.size, len(dst)-t) * h.size
		if _, err := io.ReadFull(r, buf[:m]); err != nil {
			return fmt.Errorf("%s: truncated data after %d of %d entries: %v", name, t, len(dst), err)
		}
		for b := 0; b < m; b += h.size {
			v := decode1(buf[b:b+h.size], h)
			if h.fortran {
				dst[off] = v
				// next Fortran index: first dimension fastest
				for a := 0; a < nd; a++ {
					idx[a]++
					off += cs[a]
					if idx[a] < h.shape[a] {
						break
					}
					off -= idx[a] * cs[a]
					idx[a] = 0
				}
			} else {
				dst[t] = v
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%s: entry %v is %v", name, unflat(t, h), v)
			}
			t++
		}
	}
	var one [1]byte
	if n, err := r.Read(one[:]); n > 0 {
		return fmt.Errorf("%s: data longer than its shape %v", name, h.shape)
	} else if err != nil && err != io.EOF {
		return fmt.Errorf("%s: %v", name, err)
	} else if err == nil { // a reader may return 0, nil: read to the end
		if rest, err := io.ReadAll(r); err != nil || len(rest) > 0 {
			return fmt.Errorf("%s: data longer than its shape %v or unreadable (%v)", name, h.shape, err)
		}
	}
	return nil
}

// unflat returns the index tuple of the t-th element in file order.
func unflat(t int, h *npyHeader) []int {
	nd := len(h.shape)
	out := make([]int, nd)
	for j := 0; j < nd; j++ {
		a := nd - 1 - j // C order: last dimension fastest
		if h.fortran {
			a = j
		}
		if h.shape[a] > 0 {
			out[a] = t % h.shape[a]
			t /= h.shape[a]
		}
	}
	return out
}

func decode1(b []byte, h *npyHeader) float64 {
	switch h.kind {
	case 'f':
		if h.size == 4 {
			return float64(math.Float32frombits(h.order.Uint32(b)))
		}
		return math.Float64frombits(h.order.Uint64(b))
	case 'i':
		switch h.size {
		case 1:
			return float64(int8(b[0]))
		case 2:
			return float64(int16(h.order.Uint16(b)))
		case 4:
			return float64(int32(h.order.Uint32(b)))
		}
		return float64(int64(h.order.Uint64(b)))
	}
	switch h.size {
	case 1:
		return float64(b[0])
	case 2:
		return float64(h.order.Uint16(b))
	case 4:
		return float64(h.order.Uint32(b))
	}
	return float64(h.order.Uint64(b))
}

// array is a decoded array.
type array struct {
	shape []int
	data  []float64
}

// readArray reads one member completely, checking its shape against the member's size before
// allocating.
func readArray(m member, name string) (*array, error) {
	rc, err := m.open()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	defer rc.Close()
	h, err := readHeader(rc, name)
	if err != nil {
		return nil, err
	}
	n := elements(h.shape, (m.size-h.offset)/int64(h.size))
	if n < 0 || h.offset > m.size {
		return nil, fmt.Errorf("%s: shape %v needs more bytes than the file holds (%d): truncated", name, h.shape, m.size)
	}
	a := &array{shape: h.shape, data: make([]float64, n)}
	if err := readData(rc, h, a.data, name); err != nil {
		return nil, err
	}
	if h.kind != 'f' && name != "batch_size" {
		return nil, fmt.Errorf("%s: integer dtype, want float32 or float64", name)
	}
	return a, nil
}

// npzMembers lists the arrays of an .npz archive (size bytes read from r).
func npzMembers(r io.ReaderAt, size int64) (map[string]member, error) {
	z, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("not a readable .npz (zip) archive: %v", err)
	}
	out := map[string]member{}
	for _, f := range z.File {
		name := strings.TrimSuffix(f.Name, ".npy")
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("the archive holds %q twice", name)
		}
		// a deflated member is at most ~1032 times its compressed size
		if f.CompressedSize64 > uint64(size) || f.UncompressedSize64 > 1100*f.CompressedSize64+1024 {
			return nil, fmt.Errorf("%s: corrupt archive entry (sizes %d / %d)", name, f.CompressedSize64, f.UncompressedSize64)
		}
		out[name] = member{open: f.Open, size: int64(min(f.UncompressedSize64, math.MaxInt64))}
	}
	return out, nil
}

// dirMembers lists the NAME.npy files of a directory.
func dirMembers(dir string) (map[string]member, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.npy"))
	if err != nil {
		return nil, err
	}
	out := map[string]member{}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		out[strings.TrimSuffix(filepath.Base(p), ".npy")] = member{open: func() (io.ReadCloser, error) { return os.Open(p) }, size: st.Size()}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no .npy files in the directory")
	}
	return out, nil
}

// decodeNumpy builds a request from the arrays of an .npz archive or a .npy directory.
func decodeNumpy(ms map[string]member) (*request, error) {
	var unknown []string
	for name := range ms {
		known := false
		for _, k := range numpyArrays {
			known = known || name == k
		}
		if !known {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("unknown array %q (expected %s)", unknown[0], strings.Join(numpyArrays, ", "))
	}
	get := func(name string, dims ...int) (*array, error) {
		m, ok := ms[name]
		if !ok {
			return nil, nil
		}
		a, err := readArray(m, name)
		if err != nil {
			return nil, err
		}
		ok = false
		for _, nd := range dims {
			ok = ok || len(a.shape) == nd
		}
		if !ok {
			return nil, fmt.Errorf("%s has shape %v: want %d dimensions", name, a.shape, dims[0])
		}
		return a, nil
	}
	_, hasJ := ms["jacobians"]
	_, hasH := ms["hessians"]
	switch {
	case hasJ && hasH:
		return nil, errors.New(`both "jacobians" and "hessians" given: give one form`)
	case !hasJ && !hasH:
		return nil, errors.New(`missing array "jacobians" (n, k, d) (with "output_hessian") or "hessians" (n, d, d)`)
	}
	req := &request{numpy: true}
	var n, d int
	if hasJ {
		j, err := get("jacobians", 3)
		if err != nil {
			return nil, err
		}
		n = j.shape[0]
		k := j.shape[1]
		d = j.shape[2]
		if n < 1 || k < 1 || d < 1 {
			return nil, fmt.Errorf("jacobians has shape %v: every dimension must be at least 1", j.shape)
		}
		if _, ok := ms["output_hessian"]; !ok {
			return nil, errors.New(`missing array "output_hessian" ((k, k) or (n, k, k)) beside "jacobians"`)
		}
		m, err := get("output_hessian", 2, 3)
		if err != nil {
			return nil, err
		}
		f := &analysis.Factored{N: n, K: k, D: d}
		kk := k * k
		switch {
		case len(m.shape) == 2 && m.shape[0] == k && m.shape[1] == k:
			f.OutputHessian = m.data
		case len(m.shape) == 3 && m.shape[0] == n && m.shape[1] == k && m.shape[2] == k:
			for i := 0; i < n; i++ {
				f.OutputHessians = append(f.OutputHessians, m.data[i*kk:(i+1)*kk:(i+1)*kk])
			}
		default:
			return nil, fmt.Errorf("output_hessian has shape %v: want (%d, %d) or (%d, %d, %d) for jacobians %v", m.shape, k, k, n, k, k, j.shape)
		}
		for i := 0; i < n; i++ {
			f.Factors = append(f.Factors, j.data[i*k*d:(i+1)*k*d:(i+1)*k*d])
		}
		req.Factored = f
	} else {
		if _, ok := ms["output_hessian"]; ok {
			return nil, errors.New(`"output_hessian" belongs to the factored form, not to "hessians"`)
		}
		h, err := get("hessians", 3)
		if err != nil {
			return nil, err
		}
		n, d = h.shape[0], h.shape[1]
		if n < 1 || d < 1 || h.shape[2] != d {
			return nil, fmt.Errorf("hessians has shape %v: want (n, d, d) with n, d >= 1", h.shape)
		}
		dn := &analysis.Dense{N: n, D: d}
		for i := 0; i < n; i++ {
			dn.Hessians = append(dn.Hessians, h.data[i*d*d:(i+1)*d*d:(i+1)*d*d])
		}
		req.Dense = dn
	}
	g, err := get("gradients", 2)
	if err != nil {
		return nil, err
	}
	if g != nil {
		if g.shape[0] != n || g.shape[1] != d {
			return nil, fmt.Errorf("gradients has shape %v: want (n, d) = (%d, %d)", g.shape, n, d)
		}
		grads := make([][]float64, n)
		for i := range grads {
			grads[i] = g.data[i*d : (i+1)*d : (i+1)*d]
		}
		req.setGradients(grads)
	}
	q, err := get("output_gradients", 2)
	if err != nil {
		return nil, err
	}
	if q != nil {
		switch {
		case req.Factored == nil:
			return nil, errors.New(`"output_gradients" belong to the factored form, not to "hessians"`)
		case g == nil:
			return nil, errors.New(`"output_gradients" given without "gradients"`)
		case q.shape[0] != n || q.shape[1] != req.Factored.K:
			return nil, fmt.Errorf("output_gradients has shape %v: want (n, k) = (%d, %d)", q.shape, n, req.Factored.K)
		}
		req.Factored.OutputGradients = q.data
	}
	b, err := get("batch_size", 0, 1)
	if err != nil {
		return nil, err
	}
	if b != nil {
		if len(b.data) == 0 {
			return nil, errors.New("batch_size is empty")
		}
		for _, v := range b.data {
			if v != math.Trunc(v) || v < 1 || v > float64(n) {
				return nil, fmt.Errorf("batch_size %v outside 1..n = 1..%d", v, n)
			}
			req.Batches = append(req.Batches, int(v))
		}
	}
	e, err := get("eta", 0, 1)
	if err != nil {
		return nil, err
	}
	if e != nil {
		if len(e.data) != 1 || !(e.data[0] > 0) {
			return nil, fmt.Errorf("eta must be one positive number, got %v", e.data)
		}
		req.Eta = e.data[0]
	}
	return req, nil
}
