package plots

import (
	"slices"
	"testing"

	"github.com/sgdstability/sgdstab/experiments/store"
)

// TestColumnsMatchStore checks that every column this package reads is one the sweep's
// table writer produces (CONTRACTS.md), so a renamed column cannot silently become
// "missing" in every figure.
func TestColumnsMatchStore(t *testing.T) {
	for name := range knownColumns {
		if !slices.Contains(store.Columns, name) {
			t.Errorf("column %q is read by plots but not written by experiments/store", name)
		}
	}
}
