package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/raqib/raqib/dedup"
)

// The rewrite model is fitted here, on labelled pairs, the way the
// pipeline will see them: b compared with a, words weighed by a store
// that holds a (a fresh store) or, with -warm, by the words of every
// document in the files (a desk's history of the same days).
//
// Logistic regression on the model's features (standardised, L2), then the
// decision threshold: the one of highest F1 whose precision, over the
// whole judgement (copy test, fact vetoes, model), is at least minPrec on
// the training pairs. Figures are cross-validated: k folds, stratified by
// label, repeated with several shuffles; each fold's model and threshold
// are fitted without its pairs.

type sample struct {
	file  string
	pair  int
	dup   bool
	f     dedup.Features
	x     [dedup.NumModelFeatures]float64
	fixed int // 1: the judgement says duplicate whatever the model; -1: not; 0: the model decides
}

const minPrec = 0.95

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func fit(files []string, warm, verbose bool, folds, repeats int) error {
	var ps [][]pair
	for _, f := range files {
		p, err := lines[pair](f)
		if err != nil {
			return err
		}
		ps = append(ps, p)
	}
	var background *dedup.DocFreq
	if warm {
		background = dedup.NewDocFreq(0)
		for _, p := range ps {
			for _, pr := range p {
				background.Add(dedup.Prepare(pr.A.Title, pr.A.Body).Print.Words)
				background.Add(dedup.Prepare(pr.B.Title, pr.B.Body).Print.Words)
			}
		}
	}
	var all []sample
	for i, p := range ps {
		for _, pr := range p {
			a, b := dedup.Prepare(pr.A.Title, pr.A.Body), dedup.Prepare(pr.B.Title, pr.B.Body)
			df := background
			if df == nil {
				df = dedup.NewDocFreq(0)
				df.Add(a.Print.Words)
			}
			s := sample{file: files[i], pair: pr.Pair, dup: pr.Label == "dup", f: dedup.Compare(b, &a.Print, df)}
			s.x = dedup.ModelFeatures(&s.f)
			never := dedup.Model{Bias: -1e9}
			always := dedup.Model{Bias: 1e9}
			switch lo, hi := never.Decide(&s.f, 0).Duplicate, always.Decide(&s.f, 0).Duplicate; {
			case lo:
				s.fixed = 1
			case !hi:
				s.fixed = -1
			}
			all = append(all, s)
		}
	}
	cv := map[string]*tally{}
	for _, f := range files {
		cv[f] = &tally{}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for r := 0; r < repeats; r++ {
		fold := make([]int, len(all))
		for _, label := range []bool{true, false} {
			var idx []int
			for i, s := range all {
				if s.dup == label {
					idx = append(idx, i)
				}
			}
			rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
			for k, i := range idx {
				fold[i] = k % folds
			}
		}
		for k := 0; k < folds; k++ {
			var train, test []sample
			for i, s := range all {
				if fold[i] == k {
					test = append(test, s)
				} else {
					train = append(train, s)
				}
			}
			m := train1(train)
			for _, s := range test {
				cv[s.file].add(decideWith(&m, s), s.dup)
			}
		}
	}
	mode := "a fresh store (a alone weighs the words)"
	if warm {
		mode = "words weighed by every document of the files"
	}
	fmt.Printf("cross-validated, %d folds × %d shuffles, %s:\n", folds, repeats, mode)
	for _, f := range files {
		t := cv[f]
		p, r := prf(t.tp, t.fp, t.fn)
		fmt.Printf("  %-40s precision %.3f recall %.3f F1 %.3f\n", f, p, r, f1(p, r))
	}
	m := train1(all)
	fmt.Printf("fitted on all %d pairs (training figures):\n", len(all))
	for _, f := range files {
		var t tally
		for _, s := range all {
			if s.file != f {
				continue
			}
			t.add(decideWith(&m, s), s.dup)
		}
		p, r := prf(t.tp, t.fp, t.fn)
		fmt.Printf("  %-40s precision %.3f recall %.3f F1 %.3f\n", f, p, r, f1(p, r))
	}
	if verbose {
		sorted := slices.Clone(all)
		slices.SortFunc(sorted, func(a, b sample) int { return cmpF(logit(&m, b), logit(&m, a)) })
		for _, s := range sorted {
			if s.fixed != 0 || logit(&m, s) < -3 {
				continue
			}
			fmt.Printf("  %6.2f %-5v %-28s %3d %s\n", logit(&m, s), s.dup, s.file[strings.LastIndex(s.file, "/")+1:], s.pair, s.f.String())
		}
	}
	w := make([]string, len(m.Weights))
	for i, x := range m.Weights {
		w[i] = fmt.Sprintf("%.3f", x)
	}
	fmt.Printf("dedup.Model{Bias: %.3f, Weights: [NumModelFeatures]float64{%s}}\n", m.Bias, strings.Join(w, ", "))
	return nil
}

// tally counts a judgement's outcomes.
type tally struct{ tp, fp, fn int }

func (t *tally) add(got, want bool) {
	switch {
	case got && want:
		t.tp++
	case got:
		t.fp++
	case want:
		t.fn++
	}
}

func decideWith(m *dedup.Model, s sample) bool {
	switch s.fixed {
	case 1:
		return true
	case -1:
		return false
	}
	return m.Prob(&s.f) >= 0.5
}

func prf(tp, fp, fn int) (float64, float64) {
	return float64(tp) / float64(max(1, tp+fp)), float64(tp) / float64(max(1, tp+fn))
}

func f1(p, r float64) float64 {
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

// train1 fits the model on the pairs and moves its bias to the chosen
// threshold, so that the model says "rewrite" at probability one half.
func train1(train []sample) dedup.Model {
	const n = dedup.NumModelFeatures
	var mu, sd [n]float64
	for _, s := range train {
		for j := range n {
			mu[j] += s.x[j]
		}
	}
	for j := range n {
		mu[j] /= float64(len(train))
	}
	for _, s := range train {
		for j := range n {
			sd[j] += (s.x[j] - mu[j]) * (s.x[j] - mu[j])
		}
	}
	for j := range n {
		sd[j] = max(1e-6, math.Sqrt(sd[j]/float64(len(train))))
	}
	var w [n]float64
	b := 0.0
	const l2, rate = 0.01, 0.5
	for range 2000 {
		var gw [n]float64
		gb := 0.0
		for _, s := range train {
			z := b
			for j := range n {
				z += w[j] * (s.x[j] - mu[j]) / sd[j]
			}
			e := 1/(1+math.Exp(-z)) - b2f(s.dup)
			gb += e
			for j := range n {
				gw[j] += e * (s.x[j] - mu[j]) / sd[j]
			}
		}
		b -= rate * gb / float64(len(train))
		for j := range n {
			w[j] -= rate * (gw[j]/float64(len(train)) + l2*w[j])
		}
	}
	// Back to the raw features' scale.
	m := dedup.Model{Bias: b}
	for j := range n {
		m.Weights[j] = w[j] / sd[j]
		m.Bias -= w[j] * mu[j] / sd[j]
	}
	// The threshold: the highest F1 at minPrec precision over the whole
	// judgement, else the highest precision.
	var zs []float64
	for _, s := range train {
		if s.fixed == 0 {
			zs = append(zs, logit(&m, s))
		}
	}
	slices.Sort(zs)
	bestT, bestF, bestP := math.Inf(1), -1.0, -1.0
	for _, t := range zs {
		tp, fp, fn := 0, 0, 0
		for _, s := range train {
			got := s.fixed == 1 || (s.fixed == 0 && logit(&m, s) >= t)
			switch {
			case got && s.dup:
				tp++
			case got:
				fp++
			case s.dup:
				fn++
			}
		}
		p, r := prf(tp, fp, fn)
		f := f1(p, r)
		if p >= minPrec && (bestP < minPrec || f > bestF) || bestP < minPrec && p > bestP {
			bestT, bestF, bestP = t, f, p
		}
	}
	m.Bias -= bestT
	return m
}

func logit(m *dedup.Model, s sample) float64 {
	z := m.Bias
	for j, w := range m.Weights {
		z += w * s.x[j]
	}
	return z
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
