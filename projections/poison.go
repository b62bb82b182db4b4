package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
)

// Poisoned is an event a projection could not apply, as the poison queue
// recorded it.
type Poisoned struct {
	Projection string            `json:"projection"`
	Position   uint64            `json:"position"`
	UUID       string            `json:"uuid"`
	Reason     string            `json:"reason"`
	Metadata   map[string]string `json:"metadata"`
	Payload    string            `json:"payload"`
	At         time.Time         `json:"poisoned_at"`
}

// poisonQueue is the Publisher behind the PoisonQueue middleware: it
// records a poisoned message in the read-model database together with
// its projection's checkpoint, in one batch, so that the projection moves
// past the event exactly once and the event stays on record.
type poisonQueue struct{ r *Runner }

func (q poisonQueue) Publish(topic string, msgs ...*message.Message) error {
	for _, msg := range msgs {
		name := msg.Metadata.Get(middleware.PoisonedHandlerKey)
		st := q.r.byName[name]
		ev, err := fromMessage(msg)
		if st == nil || err != nil {
			return fmt.Errorf("poison queue: message %s of handler %q: %w", msg.UUID, name, errors.Join(ErrUnknownProjection, err))
		}
		if ev.Position <= st.cp.Load() {
			continue
		}
		p := Poisoned{Projection: name, Position: ev.Position, UUID: msg.UUID, Reason: msg.Metadata.Get(middleware.ReasonForPoisonedKey),
			Metadata: msg.Metadata, Payload: string(msg.Payload), At: q.r.cfg.Now().UTC()}
		rec, _ := json.Marshal(p) // strings and a map of strings always marshal
		b := q.r.db.db.NewBatch()
		cp := Checkpoint{Position: ev.Position, RecordedAt: ev.RecordedAt}
		err = errors.Join(b.Set(poisonKey(name, ev.Position), rec, nil), b.Set(checkpointKey(name), encodeCheckpoint(cp), nil))
		if err == nil {
			err = q.r.db.commit(b, false)
		}
		b.Close()
		if err != nil {
			return fmt.Errorf("poison queue: %w", err)
		}
		st.poisoned.Add(1)
		q.r.advance(st, cp)
		q.r.logger.Error("projection skipped a poisoned event", "projection", name, "position", ev.Position, "type", ev.Type, "reason", p.Reason)
	}
	return nil
}

func (poisonQueue) Close() error { return nil }

// Poisoned calls fn for each event the projection name could not apply,
// in log order.
func (d *DB) Poisoned(ctx context.Context, name string, fn func(Poisoned) error) error {
	return d.scan(ctx, poisonPrefix(name), func(_, v []byte) error {
		var p Poisoned
		if err := json.Unmarshal(v, &p); err != nil {
			return &Error{Op: "poisoned", Projection: name, Err: errCorrupt}
		}
		return fn(p)
	})
}
