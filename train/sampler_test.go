package train

import (
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"testing"

	"github.com/sgdstability/sgdstab/internal/sampling"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// drawBatches returns the digest (FNV-1a over every index, with a separator per batch) of the
// first steps batches the trainer's sampler draws for cfg on n samples.
func drawBatches(n int, cfg Config, steps int) string {
	s := newSampler(n, cfg.WithDefaults())
	h := fnv.New64a()
	for range steps {
		for _, i := range s.Next() {
			fmt.Fprintf(h, "%d,", i)
		}
		h.Write([]byte{';'})
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

// golden writes got as JSON to testdata/name when -update is set, then reads that file into want.
func golden(t *testing.T, name string, got, want any) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		buf, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(buf, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	buf, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(buf, want); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestSamplerGolden pins the batches the trainer draws for a given seed (every scheme, several
// n and B) to the sequences recorded in testdata/sampler_golden.json, so that a change of the
// sampler's random stream or of its order of draws, which would change every training record,
// cannot pass unnoticed. Regenerate with -update only for an intended change of the sequences.
func TestSamplerGolden(t *testing.T) {
	got := map[string]string{}
	for _, n := range []int{10, 37} {
		for _, scheme := range []string{sampling.Independent, sampling.Shuffle, sampling.Mixture} {
			for _, b := range []int{1, 3, 7, n} {
				for _, seed := range []uint64{0, 5} {
					key := fmt.Sprintf("%s/n%d/B%d/seed%d", scheme, n, b, seed)
					got[key] = drawBatches(n, Config{LR: 1, Batch: b, Seed: seed, Procedure: Procedure{Sampling: scheme}}, 500)
				}
			}
		}
	}
	var want map[string]string
	golden(t, "sampler_golden.json", got, &want)
	if len(want) != len(got) {
		t.Fatalf("%d golden sequences, %d cases", len(want), len(got))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: batches digest %s, recorded %s", k, got[k], w)
		}
	}
}
