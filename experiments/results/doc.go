// Package results is the schema of the results table: one row per training run of a grid, with
// its training outcome and the analysis of the minimum it converged to. The sweep writes the
// table (experiments/store builds the rows from its records), the claim checks (package claims),
// the figures (package plots) and the report (experiments/report) read it.
//
// Row is the one definition of the columns: its fields, in order, are the columns; each field's
// json tag is the column's name in the CSV header and its key in the JSON lines. The table is
// written as <dir>/table.csv and <dir>/table.jsonl (WriteTable) and read back by ReadCSV,
// ReadJSONL or ReadFile:
//
//	err := results.WriteTable("results/quick", rows)
//	rows, err := results.ReadFile("results/quick/table.csv")
//
// # Values
//
// A missing value is an empty CSV cell and a JSON null (a nil pointer or an empty string in
// Row). Non-finite numbers are values: "NaN", "+Inf" and "-Inf" in CSV and in JSON (the
// encoding of internal/jsonfloat, as in the store's records). Finite numbers are written as the
// shortest decimal that reads back to the same float64.
//
// # Derived columns
//
// Row.Derive computes, once, the columns that follow from others: two_over_eta = 2/lr,
// gd_threshold = 2/sharpness (THEORY.md Thm 1) and eta_star = 2/generalized_sharpness (Thm 3);
// the ratios lambda_max/(2/eta), lambda_gen/(2/eta) = eta/eta* and eta*/eta are methods of Row.
//
// # Flags
//
// analysis_status and nonuniformity_status say how the iterative parts of the analysis ended.
// A generalized sharpness whose iteration stopped at its limit (Row.GenUnconverged) is a lower
// estimate of lambda_gen, so its eta* = 2/lambda_gen is biased high: claims and figures must
// leave such values out, and say that they did.
package results
