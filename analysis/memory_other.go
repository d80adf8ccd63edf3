//go:build !linux

package analysis

// machineMemory is the machine's memory in bytes, 0 (unknown: no default limit) where neither
// /proc/meminfo nor syscall.Sysinfo exists.
func machineMemory() uint64 { return 0 }
