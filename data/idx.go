package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

const (
	imageMagic = 0x00000803
	labelMagic = 0x00000801
	// Pixels is the number of pixels of one MNIST image (28 x 28).
	Pixels = 28 * 28
)

// readIDX reads a gzipped IDX file, checks its magic number and dimensions, and returns the item
// count and the raw payload (count*itemSize bytes).
func readIDX(path string, magic uint32, itemSize int) (int, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	z, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return 0, nil, fmt.Errorf("data: %s is not a gzip file (corrupt?): %w", path, err)
	}
	var head [2]uint32
	if err := binary.Read(z, binary.BigEndian, &head); err != nil {
		return 0, nil, fmt.Errorf("data: %s: reading header: %w", path, err)
	}
	if head[0] != magic {
		return 0, nil, fmt.Errorf("data: %s: magic number %#x, want %#x (wrong or corrupt file)", path, head[0], magic)
	}
	count := int(head[1])
	if magic == imageMagic {
		var rc [2]uint32
		if err := binary.Read(z, binary.BigEndian, &rc); err != nil {
			return 0, nil, fmt.Errorf("data: %s: reading header: %w", path, err)
		}
		if int(rc[0])*int(rc[1]) != itemSize {
			return 0, nil, fmt.Errorf("data: %s: images are %dx%d, want 28x28", path, rc[0], rc[1])
		}
	}
	if count <= 0 || count > 1<<20 {
		return 0, nil, fmt.Errorf("data: %s: implausible item count %d (corrupt file?)", path, count)
	}
	buf := make([]byte, count*itemSize)
	if _, err := io.ReadFull(z, buf); err != nil {
		return 0, nil, fmt.Errorf("data: %s: truncated after header (corrupt file?): %w", path, err)
	}
	return count, buf, nil
}
