//go:build unix

package train

import (
	"math"
	"syscall"
)

// cpuSeconds is the process's user+system CPU time.
func cpuSeconds() float64 { return rusageSeconds(syscall.RUSAGE_SELF) }

// threadCPUSeconds is the calling OS thread's CPU time on Linux (lock the goroutine to its
// thread first); NaN elsewhere.
func threadCPUSeconds() float64 { return rusageSeconds(1 /* RUSAGE_THREAD, Linux */) }

func rusageSeconds(who int) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return math.NaN()
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
