package train

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/sgdstability/sgdstab/data"
)

// gorgoniaNet is the model and its loss as a gorgonia expression graph for one batch size:
//
//	Z = X W1^T + 1 b1^T,  A = relu(Z),  F = A W2^T + 1 b2^T,  cost = (c/B) sum((F - Y)^2)
//
// with X (B x D) and Y (B x K) bound to the batch before every run, and the gradient of cost
// with respect to W1, b1, W2, b2 from gorgonia's symbolic differentiation (one Grad call). The
// TapeMachine runs forward and backward; the SGD update w -= eta grad is applied in place on the
// parameter tensors, after which the gradients are zeroed (the machine accumulates them).
type gorgoniaNet struct {
	ds             *data.Dataset
	b              int
	g              *G.ExprGraph
	x, y           *G.Node
	w1, b1, w2, b2 *G.Node
	cost           *G.Node
	xbuf, ybuf     []float64
	xt, yt         *tensor.Dense
	vm             G.VM
	eval           *fused // full-batch loss evaluation on a copy of the parameters
	costVal        G.Value
}

func newGorgoniaNet(ds *data.Dataset, sp *sparseX, p Params, c float64, batch int) (*gorgoniaNet, error) {
	d, h, k := ds.D, p.Hidden, ds.K
	e := &gorgoniaNet{ds: ds, b: batch, g: G.NewGraph(),
		xbuf: make([]float64, batch*d), ybuf: make([]float64, batch*k)}
	e.xt = tensor.New(tensor.WithShape(batch, d), tensor.WithBacking(e.xbuf))
	e.yt = tensor.New(tensor.WithShape(batch, k), tensor.WithBacking(e.ybuf))
	param := func(name string, rows, cols int, v []float64) *G.Node {
		t := tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(append([]float64(nil), v...)))
		return G.NewMatrix(e.g, tensor.Float64, G.WithShape(rows, cols), G.WithName(name), G.WithValue(t))
	}
	e.x = G.NewMatrix(e.g, tensor.Float64, G.WithShape(batch, d), G.WithName("x"))
	e.y = G.NewMatrix(e.g, tensor.Float64, G.WithShape(batch, k), G.WithName("y"))
	e.w1 = param("w1", h, d, p.W1)
	e.b1 = param("b1", 1, h, p.B1)
	e.w2 = param("w2", k, h, p.W2)
	e.b2 = param("b2", 1, k, p.B2)
	if err := e.build(c / float64(batch)); err != nil {
		return nil, fmt.Errorf("train: building the gorgonia graph: %w", err)
	}
	e.vm = G.NewTapeMachine(e.g, G.BindDualValues(e.w1, e.b1, e.w2, e.b2))
	e.eval = newFused(ds, sp, p, c, 1)
	return e, nil
}

func (e *gorgoniaNet) build(scale float64) (err error) {
	defer func() { // gorgonia's Must panics on shape errors; report them as errors
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	m := G.Must
	z := m(G.BroadcastAdd(m(G.Mul(e.x, m(G.Transpose(e.w1)))), e.b1, nil, []byte{0}))
	a := m(G.Rectify(z))
	f := m(G.BroadcastAdd(m(G.Mul(a, m(G.Transpose(e.w2)))), e.b2, nil, []byte{0}))
	sq := m(G.Square(m(G.Sub(f, e.y))))
	e.cost = m(G.Mul(m(G.Sum(sq)), G.NewConstant(scale)))
	G.Read(e.cost, &e.costVal)
	_, err = G.Grad(e.cost, e.w1, e.b1, e.w2, e.b2)
	return err
}

func (e *gorgoniaNet) nodes() []*G.Node { return []*G.Node{e.w1, e.b1, e.w2, e.b2} }

// forwardBackward binds the batch (a batch of all n samples is taken in natural order, as the
// fused engine does), runs forward and backward and returns the cost; the gradients are then in
// the parameter nodes' Grad().
func (e *gorgoniaNet) forwardBackward(batch []int) float64 {
	d, k := e.ds.D, e.ds.K
	for b, i := range batch {
		if len(batch) == e.ds.N {
			i = b
		}
		copy(e.xbuf[b*d:(b+1)*d], e.ds.Row(i))
		copy(e.ybuf[b*k:(b+1)*k], e.ds.Target(i))
	}
	if err := G.Let(e.x, e.xt); err != nil {
		panic(err) // shapes are fixed at construction: cannot happen
	}
	if err := G.Let(e.y, e.yt); err != nil {
		panic(err)
	}
	if err := e.vm.RunAll(); err != nil {
		panic(fmt.Sprintf("train: gorgonia run: %v", err))
	}
	return e.costVal.Data().(float64)
}

// grad returns the gradient of the node's parameter block (a view).
func grad(n *G.Node) *tensor.Dense {
	gv, err := n.Grad()
	if err != nil {
		panic(fmt.Sprintf("train: gorgonia gradient of %s: %v", n.Name(), err))
	}
	return gv.(*tensor.Dense)
}

// step runs forward and backward on the batch, applies w -= lr grad in place and zeroes the
// gradients (the TapeMachine would otherwise accumulate them into the next run).
func (e *gorgoniaNet) step(batch []int, lr float64) float64 {
	loss := e.forwardBackward(batch)
	for _, n := range e.nodes() {
		w := n.Value().Data().([]float64)
		g := grad(n)
		for i, gi := range g.Data().([]float64) {
			w[i] -= lr * gi
		}
		g.Zero()
	}
	e.vm.Reset()
	return loss
}

// gradient returns the gradient of the batch's mean loss at the current parameters, flat in the
// order W1, b1, W2, b2 (for the tests of the analytic derivatives), leaving the parameters alone.
func (e *gorgoniaNet) gradient(batch []int) []float64 {
	e.forwardBackward(batch)
	var out []float64
	for _, n := range e.nodes() {
		g := grad(n)
		out = append(out, g.Data().([]float64)...)
		g.Zero()
	}
	e.vm.Reset()
	return out
}

func (e *gorgoniaNet) params() Params {
	get := func(n *G.Node) []float64 { return append([]float64(nil), n.Value().Data().([]float64)...) }
	return Params{Hidden: e.w1.Shape()[0], W1: get(e.w1), B1: get(e.b1), W2: get(e.w2), B2: get(e.b2)}
}

// fullLoss evaluates L(w) with the fused forward pass on a copy of the graph's parameters.
func (e *gorgoniaNet) fullLoss() float64 {
	p := e.params()
	e.eval.setW1(p.W1)
	copy(e.eval.b1, p.B1)
	copy(e.eval.w2, p.W2)
	copy(e.eval.b2, p.B2)
	e.eval.cached = false
	return e.eval.fullLoss()
}
