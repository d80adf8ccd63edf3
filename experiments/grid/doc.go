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
//	tc := cfg.TrainConfig(runs[0])                   // train.Config, defaults filled in
//	mine := grid.Shard(runs, 2, 8)                   // runs 2, 10, 18, ... (shard 2 of 8)
//
// The model and training sections decode straight into train.Model and train.Procedure (the
// parts of train.Config), and they are validated by train.Config.Validate, the one set of rules
// for a training configuration, with errors naming the grid key. The grid adds only what is about
// grids: lists, duplicates, batch <= n, a block's epoch limit, a run that could never converge.
// TrainConfig gives a run's resolved train.Config; package runspec adds the analysis settings and
// the store spec that keys the run's record.
package grid
