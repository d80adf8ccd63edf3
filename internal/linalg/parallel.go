package linalg

import "sync"

// Parallel calls do(start(w), start(w+1)) for w = 0, ..., workers-1, each in its own goroutine
// (with fewer than two workers, do(start(0), start(1)) directly), and waits for all of them:
// the ranges [start(w), start(w+1)) split a loop between the cores.
func Parallel(workers int, start func(w int) int, do func(lo, hi int)) {
	if workers < 2 {
		do(start(0), start(1))
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := start(w), start(w+1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			do(lo, hi)
		}()
	}
	wg.Wait()
}
