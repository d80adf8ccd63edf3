package claims_test

import (
	"fmt"
	"strings"

	"github.com/sgdstability/sgdstab/claims"
	"github.com/sgdstability/sgdstab/experiments/results"
)

// Read a (very small) results table and check claim (4), chain (26). By hand: the largest
// ratios a/b are 150/160, 160/170 and 180/190.1 (upper end of the bracket).
func ExampleCheck() {
	table := `lr,batch,n,status,sharpness,bound15,bound25,generalized_sharpness,gen_sharpness_lo,gen_sharpness_hi
0.01,1,512,converged,60,110,180,190,189.9,190.1
0.01,8,512,converged,150,160,170,190,189.9,190.1
0.05,1,512,diverged,,,,,,
`
	rows, err := results.ReadCSV(strings.NewReader(table))
	if err != nil {
		panic(err)
	}
	c := claims.Check(rows, claims.Tolerances{})[3]
	fmt.Println(c.Verdict)
	fmt.Println(c.Summary)
	// Output:
	// holds
	// 2 of 2 converged minima have the whole chain, checked at every minimum (1 seed per point); λmax ≤ (15): 2 minima, 0 violations (largest a/b − 1 = -0.062); (15) ≤ (25): 2 minima, 0 violations (largest a/b − 1 = -0.059); (25) ≤ λgen: 2 minima, 0 violations (largest a/b − 1 = -0.053).
}
