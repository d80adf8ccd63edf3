package train

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"

	"github.com/sgdstability/sgdstab/data"
	"github.com/sgdstability/sgdstab/internal/sampling"
)

// Status is how a run ended.
type Status string

// Run statuses.
const (
	Converged  Status = "converged"   // loss below ConvThreshold for ConvEpochs consecutive epochs
	Diverged   Status = "diverged"    // loss NaN, Inf or above DivergeLoss
	EpochLimit Status = "epoch_limit" // MaxEpochs reached without converging
)

// Result is one finished run.
type Result struct {
	Config Config `json:"config"` // with defaults filled in
	Status Status `json:"status"`
	// Epochs and Steps done; StepsPerEpoch as defined by Config.StepsPerEpoch.
	Epochs        int `json:"epochs"`
	Steps         int `json:"steps"`
	StepsPerEpoch int `json:"steps_per_epoch"`
	// FinalLoss is the full-batch loss L(w) at the returned parameters.
	FinalLoss float64 `json:"final_loss"`
	// LossCurve holds the full-batch loss after every epoch (LossCurve[e-1] after epoch e); a
	// divergence is recorded as its non-finite or too large value (NaN/Inf are stored as null by
	// the experiments' writers if they need JSON).
	LossCurve []float64 `json:"loss_curve"`
	// Seconds is the wall-clock training time (sharpness tracking included).
	Seconds float64 `json:"train_seconds"`
	Params  Params  `json:"params"`
	// SharpnessPath is the sharpness recorded during training (Config.SharpnessEvery > 0; nil
	// otherwise).
	SharpnessPath *SharpnessPath `json:"sharpness_path,omitempty"`
}

// Progress is reported after every epoch.
type Progress struct {
	Run    int     `json:"run"` // index into TrainMany's configurations (0 for Train)
	Epoch  int     `json:"epoch"`
	Loss   float64 `json:"loss"`   // full-batch loss after the epoch
	LR     float64 `json:"lr"`     // step size of the epoch's last step
	Streak int     `json:"streak"` // consecutive epochs below the convergence threshold
}

// engine computes SGD steps for one run.
type engine interface {
	step(batch []int, lr float64) float64 // mean batch loss before the step
	fullLoss() float64
	params() Params
}

// Train runs SGD for one configuration (see the package documentation for the schedule and the
// stopping rules). A configuration error is returned before any work; divergence is a Status, not
// an error. A cancelled ctx stops the run between epochs and returns ctx.Err().
func Train(ctx context.Context, ds *data.Dataset, cfg Config, progress func(Progress)) (*Result, error) {
	if err := checkData(ds); err != nil {
		return nil, err
	}
	if err := cfg.Validate(ds.N); err != nil {
		return nil, err
	}
	return run(ctx, ds, newSparseX(ds), cfg, nil, 0, progress)
}

// TrainFrom is Train started from the given parameters instead of Config's initialization
// (InitFactor and InitSeed are then unused; start is copied, not modified). cfg.Hidden must be
// start.Hidden (or 0 with start.Hidden the default). Everything else is as in Train, warm-up
// included: set WarmupSteps = -1 for a constant step size. Continuing a run this way replays the
// batch sampling from Seed, so it equals one longer run only for deterministic batches (B = n).
func TrainFrom(ctx context.Context, ds *data.Dataset, cfg Config, start Params, progress func(Progress)) (*Result, error) {
	if err := checkData(ds); err != nil {
		return nil, err
	}
	if err := cfg.Validate(ds.N); err != nil {
		return nil, err
	}
	if err := start.Check(ds.D, ds.K); err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	if h := cfg.WithDefaults().Hidden; h != start.Hidden {
		return nil, fmt.Errorf("train: hidden = %d, but the start parameters have %d hidden units", h, start.Hidden)
	}
	return run(ctx, ds, newSparseX(ds), cfg, &start, 0, progress)
}

// TrainMany trains every configuration with `workers` goroutines (0 or less: one per core) and
// returns the results in the order of cfgs. Every configuration is validated first. Each run is
// single-threaded and deterministic, so the results do not depend on workers. progress (may be
// nil) is called from one goroutine at a time. When ctx is cancelled, TrainMany returns ctx.Err()
// together with the results finished so far (nil for the others).
func TrainMany(ctx context.Context, ds *data.Dataset, cfgs []Config, workers int, progress func(Progress)) ([]*Result, error) {
	if err := checkData(ds); err != nil {
		return nil, err
	}
	for i, c := range cfgs {
		if err := c.Validate(ds.N); err != nil {
			return nil, fmt.Errorf("configuration %d: %w", i, err)
		}
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	sp := newSparseX(ds)
	var mu sync.Mutex
	report := progress
	if progress != nil {
		report = func(p Progress) { mu.Lock(); defer mu.Unlock(); progress(p) }
	}
	results := make([]*Result, len(cfgs))
	errs := make([]error, len(cfgs))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i], errs[i] = run(ctx, ds, sp, cfgs[i], nil, i, report)
			}
		}()
	}
feed:
	for i := range cfgs {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		for i := range results {
			if errs[i] != nil {
				results[i] = nil
			}
		}
		return results, err
	}
	for i, err := range errs {
		if err != nil {
			return results, fmt.Errorf("configuration %d: %w", i, err)
		}
	}
	return results, nil
}

func checkData(ds *data.Dataset) error {
	if ds == nil || ds.N < 1 || ds.D < 1 || ds.K < 1 || len(ds.X) != ds.N*ds.D || len(ds.Y) != ds.N*ds.K {
		return fmt.Errorf("train: empty or inconsistent data set")
	}
	return nil
}

// newEngine builds cfg's engine at the parameters start (nil: InitParams of cfg).
func newEngine(ds *data.Dataset, sp *sparseX, cfg Config, start *Params) (engine, error) {
	c, _ := LossScale(cfg.Loss, ds.K)
	var p Params
	if start != nil {
		p = *start // the engines copy it
	} else {
		p = InitParams(ds.D, cfg.Hidden, ds.K, cfg.InitFactor, cfg.InitSeed)
	}
	if cfg.Engine == EngineGorgonia {
		return newGorgoniaNet(ds, sp, p, c, cfg.Batch)
	}
	batch := cfg.Batch
	if cfg.Sampling == sampling.Mixture {
		batch = ds.N // the largest batch of ALG(p); single-sample steps fit in its buffers
	}
	e := newFused(ds, sp, p, c, batch)
	e.fullSteps = cfg.Batch == ds.N && cfg.Sampling != sampling.Mixture
	return e, nil
}

// run trains one validated configuration from start (nil: its initialization).
func run(ctx context.Context, ds *data.Dataset, sp *sparseX, cfg Config, startAt *Params, id int, progress func(Progress)) (*Result, error) {
	start := time.Now()
	cfg = cfg.WithDefaults()
	eng, err := newEngine(ds, sp, cfg, startAt)
	if err != nil {
		return nil, err
	}
	smp := newSampler(ds.N, cfg)
	res := &Result{Config: cfg, Status: EpochLimit, StepsPerEpoch: cfg.StepsPerEpoch(ds.N)}
	var track *sharpnessTracker
	if cfg.SharpnessEvery > 0 {
		track = newSharpnessTracker(ds, sp, cfg.Loss, DefaultSharpnessOptions)
		if err := track.record(0, cfg.StepLR(0, ds.N), eng.params()); err != nil {
			return nil, err
		}
	}
	streak := 0
	loss := math.NaN()
	for epoch := 1; epoch <= cfg.MaxEpochs; epoch++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		lr := 0.0
		finite := true
		for s := 0; s < res.StepsPerEpoch; s++ {
			lr = cfg.StepLR(res.Steps, ds.N)
			bl := eng.step(smp.Next(), lr)
			res.Steps++
			if math.IsNaN(bl) || math.IsInf(bl, 0) {
				finite = false
				break
			}
		}
		loss = eng.fullLoss()
		if !finite && !math.IsInf(loss, 0) {
			loss = math.NaN() // a non-finite batch loss means non-finite parameters
		}
		res.Epochs = epoch
		res.LossCurve = append(res.LossCurve, loss)
		if loss < cfg.ConvThreshold {
			streak++
		} else {
			streak = 0
		}
		if progress != nil {
			progress(Progress{Run: id, Epoch: epoch, Loss: loss, LR: lr, Streak: streak})
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) || loss > cfg.DivergeLoss {
			res.Status = Diverged
		} else if streak >= cfg.ConvEpochs {
			res.Status = Converged
		}
		last := res.Status != EpochLimit || epoch == cfg.MaxEpochs
		if track != nil && (epoch%cfg.SharpnessEvery == 0 || last) {
			if err := track.record(epoch, lr, eng.params()); err != nil {
				return nil, err
			}
		}
		if last {
			break
		}
	}
	if track != nil {
		res.SharpnessPath = &track.path
	}
	res.FinalLoss = loss
	res.Params = eng.params()
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}
