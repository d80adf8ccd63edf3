// Package grid reads the experiment grids under experiments/ (YAML files such as paper.yaml and
// quick.yaml) and expands them into the list of runs a sweep performs.
//
// A grid fixes everything except the step size, the batch size and the SGD seed (data selection,
// model, training rule, analysis options, output and store directories) and lists blocks of
// learning rates x batch sizes, each optionally with its own epoch limit. The runs are the union
// over blocks of lr x batch x seeds, without duplicates, in file order:
//
//	cfg, err := grid.Load("experiments/quick.yaml") // unknown keys, wrong types, empty lists,
//	                                                // impossible values: error with file, key, reason
//	runs := cfg.Runs()                               // []grid.Run{LR, Batch, Seed, MaxEpochs, Index}
//	mine := grid.Shard(runs, 2, 8)                   // runs 2, 10, 18, ... (shard 2 of 8)
//
// The package knows nothing about training or analysis: it only checks what it can check alone
// (types, ranges, batch <= n). The sweep command resolves the remaining defaults through the
// train and analysis packages and validates there.
package grid
