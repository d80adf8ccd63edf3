package grid

import (
	"fmt"
	"strconv"
	"strings"
)

// Run is one training run of a grid: a step size, a batch size (resolved: "n" is the number of
// samples), an SGD seed, the epoch limit (its block's max_epochs, else training.max_epochs;
// 0 means train's default) and the sharpness-path interval (its block's sharpness_every, else
// training.sharpness_every). Index is its position in the grid's expansion order.
type Run struct {
	Index          int
	Block          string
	LR             float64
	Batch          int
	Seed           uint64
	MaxEpochs      int
	SharpnessEvery int
}

func (r Run) String() string {
	return fmt.Sprintf("lr=%g B=%d seed=%d", r.LR, r.Batch, r.Seed)
}

// Runs expands the grid: for each block in file order, for each lr, each batch size, each seed
// (the block's seeds, else the top-level ones). A run listed by several blocks appears once, at
// its first place (Load rejects a grid whose blocks give the same run different epoch limits or
// sharpness intervals).
func (c *Config) Runs() []Run {
	runs, _ := c.expand()
	return runs
}

// expand is Runs, with an error for a run that two blocks list with different epoch limits or
// sharpness intervals.
func (c *Config) expand() ([]Run, error) {
	n := c.N()
	type id struct {
		lr    float64
		batch int
		seed  uint64
	}
	first := map[id]Run{}
	var runs []Run
	for i, b := range c.Grid {
		name := b.Name
		if name == "" {
			name = fmt.Sprintf("grid[%d]", i)
		}
		maxEpochs := c.Training.MaxEpochs
		if b.MaxEpochs > 0 {
			maxEpochs = b.MaxEpochs
		}
		every := c.Training.SharpnessEvery
		if b.SharpnessEvery != nil {
			every = *b.SharpnessEvery
		}
		seeds := c.Seeds
		if b.Seeds != nil {
			seeds = b.Seeds
		}
		for _, lr := range b.LR {
			for _, bs := range b.Batch {
				for _, s := range seeds {
					k := id{lr, bs.Resolve(n), s}
					if r, ok := first[k]; ok {
						clash := func(what string, there, here int) error {
							return &Error{File: c.File, Key: fmt.Sprintf("grid[%d]", i), Reason: fmt.Sprintf(
								"run %v is also in block %q with another %s (%d, here %d): list it in one block only",
								r, r.Block, what, there, here)}
						}
						if r.MaxEpochs != maxEpochs {
							return nil, clash("epoch limit", r.MaxEpochs, maxEpochs)
						}
						if r.SharpnessEvery != every {
							return nil, clash("sharpness_every", r.SharpnessEvery, every)
						}
						continue
					}
					r := Run{Index: len(runs), Block: name, LR: lr, Batch: k.batch, Seed: s, MaxEpochs: maxEpochs, SharpnessEvery: every}
					first[k] = r
					runs = append(runs, r)
				}
			}
		}
	}
	return runs, nil
}

// Shard returns shard i of count (0 <= i < count): the runs whose expansion index is i modulo
// count. The count shards together hold every run exactly once, and each shard gets a mix of
// cheap and expensive runs.
func Shard(runs []Run, i, count int) []Run {
	if count < 1 || i < 0 || i >= count {
		panic(fmt.Sprintf("grid: shard %d/%d out of range", i, count))
	}
	var out []Run
	for _, r := range runs {
		if r.Index%count == i {
			out = append(out, r)
		}
	}
	return out
}

// ParseShard reads "i/N" (0 <= i < N), as in -shard 3/8; "" means the whole grid (0/1).
func ParseShard(s string) (i, count int, err error) {
	if s == "" {
		return 0, 1, nil
	}
	a, b, ok := strings.Cut(s, "/")
	if ok {
		i, err = strconv.Atoi(strings.TrimSpace(a))
		if err == nil {
			count, err = strconv.Atoi(strings.TrimSpace(b))
		}
	}
	if !ok || err != nil {
		return 0, 0, fmt.Errorf("shard %q: want i/N, e.g. 0/4 (shards are numbered 0..N-1)", s)
	}
	if count < 1 || i < 0 || i >= count {
		return 0, 0, fmt.Errorf("shard %q: want 0 <= i < N and N >= 1 (shards are numbered 0..N-1)", s)
	}
	return i, count, nil
}
