package gateway

import (
	"context"
	"strconv"
	"time"

	"go.uber.org/zap"
)

func (bs *batchState) copyBatch() *Batch {
	b := *bs.batch
	b.Counts = make(map[State]int, len(States))
	for _, s := range States {
		b.Counts[s] = bs.batch.Counts[s]
	}
	return &b
}

// SubmitBatch validates a batch request and creates one command per meter, all in one
// store transaction. existing is true when the idempotency key repeats with the same body.
// A meter that is unknown or cannot do the action rejects the whole batch.
func (e *Engine) SubmitBatch(req BatchRequest) (batch *Batch, existing bool, err error) {
	now := e.now()
	if rerr := e.validateCommon(req.Action, req.Items, req.Deadline, req.Operator,
		req.IdempotencyKey, now); rerr != nil {
		return nil, false, rerr
	}
	if len(req.Meters) == 0 {
		return nil, false, invalid("meters", "", "a batch needs at least one meter")
	}
	if len(req.Meters) > e.cfg.MaxBatch {
		return nil, false, invalid("meters", strconv.Itoa(len(req.Meters)),
			"a batch takes at most %d meters", e.cfg.MaxBatch)
	}
	seen := make(map[string]struct{}, len(req.Meters))
	for i, m := range req.Meters {
		field := "meters[" + strconv.Itoa(i) + "]"
		if !validMeterAddress(m) {
			return nil, false, invalid(field, m, "meter address must be 12 digits")
		}
		if _, dup := seen[m]; dup {
			return nil, false, invalid(field, m, "meter is listed twice")
		}
		seen[m] = struct{}{}
	}
	keyed := req
	keyed.IdempotencyKey = ""
	if keyed.Deadline != nil {
		d := keyed.Deadline.UTC()
		keyed.Deadline = &d
	}
	hash := hashBody(keyed)

	e.mu.Lock()
	if e.closing {
		e.mu.Unlock()
		return nil, false, ErrClosed
	}
	if req.IdempotencyKey != "" {
		if rec, ok := e.idem[req.IdempotencyKey]; ok {
			e.mu.Unlock()
			if _, _, err := e.repeat(rec, req.IdempotencyKey, hash, true); err != nil {
				return nil, false, err
			}
			b, err := e.Batch(rec.Batch)
			return b, true, err
		}
	}
	jobs := make([]*job, len(req.Meters))
	for i, m := range req.Meters {
		dev, key, rerr := e.resolveLocked(Target{Meter: m}, req.Action,
			"meters["+strconv.Itoa(i)+"]")
		if rerr != nil {
			// Name the meter that rejects the batch, also for unsupported_action,
			// which resolveLocked reports on the action field.
			rerr.Field = "meters[" + strconv.Itoa(i) + "]"
			rerr.Value = m
			e.mu.Unlock()
			return nil, false, rerr
		}
		jobs[i] = &job{dev: dev, key: key}
	}
	e.nextBatch++
	b := &Batch{ID: formatID('b', e.nextBatch), Action: req.Action, Total: len(jobs),
		Counts: map[State]int{}, CreatedAt: now.UTC()}
	overBlast := e.blastRadiusLocked(req, jobs)
	cmds := make([]*Command, len(jobs))
	var blocked []*Command
	for i, j := range jobs {
		j.cmd = e.newCommandLocked(req.Action, Target{Meter: req.Meters[i]}, req.Items,
			req.Deadline, req.Operator, req.Force, "", b.ID, now)
		var r *Reason
		if term := terminalOf(j.dev); overBlast[term] != "" {
			r = e.blockLocked(j.cmd, ruleBlastRadius, overBlast[term])
		} else {
			r = e.interlockLocked(j, now)
		}
		if r != nil {
			blocked = append(blocked, j.cmd)
		} else {
			e.active[j.cmd.ID] = j
		}
		b.Counts[j.cmd.State]++
		cmds[i] = j.cmd.clone()
	}
	b.Deadline = jobs[0].cmd.Deadline
	bs := &batchState{batch: b, jobs: jobs}
	e.batches[b.ID] = bs
	if req.IdempotencyKey != "" {
		e.idem[req.IdempotencyKey] = idemRecord{Hash: hash, Batch: b.ID}
	}
	stored := bs.copyBatch()
	e.mu.Unlock()

	var rec *idemRecord
	if req.IdempotencyKey != "" {
		rec = &idemRecord{Hash: hash, Batch: b.ID}
	}
	if err := e.store.CreateCommands(cmds, stored, req.IdempotencyKey, rec); err != nil {
		e.mu.Lock()
		for _, j := range jobs {
			delete(e.active, j.cmd.ID)
			e.uncountTripLocked(j, now)
		}
		delete(e.batches, b.ID)
		delete(e.idem, req.IdempotencyKey)
		e.mu.Unlock()
		e.log.Error("persisting a new batch failed", zap.String("batch", b.ID),
			zap.Error(err))
		return nil, false, err
	}
	e.metrics.submissions.Add(float64(len(cmds)))
	for _, c := range blocked {
		e.finished(c)
	}
	var superseded []change
	e.mu.Lock()
	for _, j := range jobs {
		if j.cmd.State != StateQueued {
			continue
		}
		e.metrics.active.WithLabelValues(string(StateQueued)).Inc()
		for _, old := range e.supersedeLocked(j) {
			superseded = append(superseded, change{j: old, to: StateCancelled,
				reason: &Reason{Code: ReasonSuperseded, Message: "superseded by command " +
					j.cmd.ID}, detail: "superseded by " + j.cmd.ID})
		}
		e.enqueueLocked(j)
	}
	out := bs.copyBatch()
	e.mu.Unlock()
	e.log.Info("batch created", zap.String("batch", b.ID), zap.String("action",
		string(b.Action)), zap.Int("meters", b.Total), zap.Int("blocked", len(blocked)))
	e.hub.Publish(EventBatch, out)
	if len(superseded) > 0 {
		e.apply(superseded)
	}
	return out, false, nil
}

// blastRadiusLocked returns, per terminal, why a batch's trips on it are refused: the
// share of the terminal's archive meters in the batch exceeds the configured limit.
func (e *Engine) blastRadiusLocked(req BatchRequest, jobs []*job) map[string]string {
	out := map[string]string{}
	if req.Action != ActionTrip || req.Force || e.cfg.BlastRadius <= 0 {
		return out
	}
	perTerminal := map[string]int{}
	for _, j := range jobs {
		if term := terminalOf(j.dev); term != "" {
			perTerminal[term]++
		}
	}
	for term, n := range perTerminal {
		total := e.dir.meterCount[term]
		if total > 0 && float64(n)/float64(total) > e.cfg.BlastRadius {
			out[term] = strconv.Itoa(n) + " of the " + strconv.Itoa(total) + " meters of " +
				"terminal " + term + " are in this batch, above the blast radius of " +
				strconv.FormatFloat(e.cfg.BlastRadius, 'f', -1, 64)
			e.log.Warn("blast-radius guard blocked a batch's trips on a terminal",
				zap.String("terminal", term), zap.Int("meters", n), zap.Int("total", total))
		}
	}
	return out
}

// Batch returns a batch with its counts; ErrNotFound when it does not exist.
func (e *Engine) Batch(id string) (*Batch, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	bs := e.batches[id]
	if bs == nil {
		return nil, &RequestError{Kind: ErrNotFound, Code: "not_found", Field: "id", Value: id,
			Message: "no batch with this id"}
	}
	return bs.copyBatch(), nil
}

// CancelBatch cancels every command of the batch that has not been sent yet, persisting
// all of them in one transaction, and returns the batch.
func (e *Engine) CancelBatch(id string) (*Batch, error) {
	e.mu.Lock()
	bs := e.batches[id]
	if bs == nil {
		e.mu.Unlock()
		return nil, &RequestError{Kind: ErrNotFound, Code: "not_found", Field: "id", Value: id,
			Message: "no batch with this id"}
	}
	var changes []change
	for _, j := range bs.jobs {
		if j.cmd.State == StateQueued && !j.recover {
			changes = append(changes, change{j: j, to: StateCancelled, reason: &Reason{
				Code: ReasonCancelled, Message: "batch cancelled on request"},
				detail: "batch " + id + " cancelled"})
		}
	}
	bs.batch.Cancelled = true
	stored := bs.copyBatch()
	e.mu.Unlock()
	if err := e.store.PutBatch(stored); err != nil {
		return nil, err
	}
	n := e.apply(changes)
	e.log.Info("batch cancelled", zap.String("batch", id), zap.Int("commands", n))
	b, err := e.Batch(id)
	if err == nil {
		e.hub.Publish(EventBatch, b)
	}
	return b, err
}

// compactLoop runs Compact every CompactEvery.
func (e *Engine) compactLoop() {
	defer e.background.Done()
	tick := time.NewTicker(e.cfg.CompactEvery)
	defer tick.Stop()
	for {
		select {
		case <-e.stopSweep:
			return
		case <-tick.C:
			if _, err := e.Compact(context.Background()); err != nil {
				e.log.Error("compaction failed", zap.Error(err))
			}
		}
	}
}

// Compact deletes finished commands older than the retention, their idempotency keys, and
// batches whose commands are all gone. It returns how many commands it deleted.
func (e *Engine) Compact(ctx context.Context) (int, error) {
	cutoff := e.now().Add(-e.cfg.Retention)
	var ids, keys []string
	alive := map[string]bool{}
	err := e.store.ScanCommands("", func(c *Command) bool {
		if c.State.Final() && c.UpdatedAt.Before(cutoff) {
			ids = append(ids, c.ID)
			if c.IdempotencyKey != "" {
				keys = append(keys, c.IdempotencyKey)
			}
		} else if c.Batch != "" {
			alive[c.Batch] = true
		}
		return ctx.Err() == nil
	})
	if err != nil {
		return 0, err
	}
	var batches []string
	e.mu.Lock()
	for id, bs := range e.batches {
		if !alive[id] && bs.batch.CreatedAt.Before(cutoff) {
			batches = append(batches, id)
			delete(e.batches, id)
		}
	}
	for k, rec := range e.idem {
		if rec.Batch != "" && e.batches[rec.Batch] == nil {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		delete(e.idem, k)
	}
	e.mu.Unlock()
	if len(ids)+len(keys)+len(batches) == 0 {
		return 0, nil
	}
	if err := e.store.DeleteCommands(ids, keys, batches); err != nil {
		return 0, err
	}
	e.log.Info("compacted finished commands", zap.Int("commands", len(ids)),
		zap.Int("batches", len(batches)), zap.Time("cutoff", cutoff))
	return len(ids), nil
}
