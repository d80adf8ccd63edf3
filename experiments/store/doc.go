// Package store keeps one JSON record per training run, keyed by a hash of everything that
// determines the run's result, with the parameters of every converged minimum in a NumPy file
// beside it, and writes the summary tables of a grid.
//
// A run's identity is its Spec: the record format version, the data selection (and n), the
// resolved training configuration (train.Config after WithDefaults, including lr, batch size and
// seeds) and the resolved analysis settings (analysis.Options after WithDefaults, and whether the
// exact Hessian sharpness is computed), all under their JSON names. Key(spec) is the SHA-256 of the
// spec's JSON encoding (Go's encoding/json: struct fields in declaration order, map keys sorted,
// so equal specs give equal bytes). Two grids that contain the same run share its record; Find
// looks a run up by its spec (package runspec builds specs from a grid).
//
// Layout of a store directory:
//
//	FORMAT                     "sgdstab store format 4": Open refuses a store of another format
//	<key[0:2]>/<key>.json      the record (spec, status, losses, analysis report, timings, ...)
//	<key[0:2]>/<key>.npy       converged runs: the final parameters, float64, shape (d,)
//	<key[0:2]>/<key>.lease     while a process trains the run: its lease (JSON host, pid,
//	                           token, heartbeat)
//
// Leases make concurrent sweeps on one store (processes, shards, machines sharing the directory)
// train every run once (Claim): a process creates <key>.lease with O_EXCL before it trains the
// run, keeps the file open and rewrites its heartbeat in place every timeout/10, and removes it
// (Release) after the record is written, when the run fails, or when it is interrupted. A run
// whose lease exists and is fresh is left to its holder (ErrLeased; the caller tries later, and
// finds the record or a lease released without one). A lease whose heartbeat is older than the
// timeout (default 5 min: its holder died or hangs), or whose holder ran on this machine and has
// exited, is taken over by one process at a time: under an O_EXCL takeover marker the taker
// re-reads the lease, removes it only if it still is the stale lease it judged, and then creates
// its own O_EXCL lease (racing any newcomer; one wins). A holder notices that it
// lost its lease (the path no longer names its open file) at its next heartbeat; the run is
// then trained twice, which costs time but no data. CleanLeases removes stale leases left by a
// process killed after writing its record.
//
// Every file is written atomically (internal/atomicfile): a temporary file in the same directory,
// fsync, rename over the final name, fsync of the directory. Put writes the params file first
// and the record last, so a process killed at any moment leaves either no record (perhaps a
// params file, which the redone run overwrites) or a complete record with a complete params file.
// A record carries its own checksum (SHA-256 of its JSON with the checksum field empty) and the
// SHA-256 of its params file; Get reports a record that does not parse, whose key does not match
// its spec or its file name, whose checksum is wrong, or whose params file is missing or does not
// match, as *CorruptError, and the sweep moves it aside (with its params file) and reruns the run.
//
//	st, _ := store.Open("results/store")            // refuses a store of another format
//	spec, _ := store.NewSpec(sel, n, trainCfg, analysisSettings)
//	rec, err := st.Find(spec)                       // ErrNotFound, *CorruptError, or the record
//	err = st.Put(&store.Record{Spec: spec, Status: "converged", ...}, &params)
//	p, err := st.Params(rec)                        // train.Params, checksum verified
//	err = store.WriteTable("results/quick", "quick", recs) // table.csv + table.jsonl
package store
