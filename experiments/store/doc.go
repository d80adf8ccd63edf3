// Package store keeps one JSON record per training run, keyed by a hash of everything that
// determines the run's result, and writes the summary tables of a grid.
//
// A run's identity is its Spec: the record format version, the data selection (and n), the
// resolved training configuration (train.Config after WithDefaults, including lr, batch size and
// seeds) and the resolved analysis settings. Key(spec) is the SHA-256 of the spec's JSON encoding
// (Go's encoding/json: struct fields in declaration order, map keys sorted, so equal specs give
// equal bytes). Two grids that contain the same run share its record.
//
// Records live at <dir>/<key[0:2]>/<key>.json. Each is written atomically: a temporary file in
// the same directory, fsync, rename over the final name, fsync of the directory; a process killed
// at any moment leaves either the old state or the complete new record, never half a record. A
// record carries its own checksum (SHA-256 of its JSON with the checksum field empty); Get
// reports a record that does not parse, whose key does not match its spec or its file name, or
// whose checksum is wrong, as *CorruptError, and the sweep moves it aside and reruns the run.
//
//	st, _ := store.Open("results/store")
//	spec, _ := store.NewSpec(sel, n, trainCfg, analysisOpts)
//	rec, err := st.Get(spec.Key())     // ErrNotFound, *CorruptError, or the record
//	err = st.Put(&store.Record{Spec: spec, Status: "converged", ...})
//	err = store.WriteTable("results/quick", "quick", recs) // table.csv + table.jsonl
package store
