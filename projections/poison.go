package projections

import (
	"context"
	"encoding/json"
	"time"
)

// Poisoned is an event a projection skipped because it could not decode
// it, as recorded beside its model.
type Poisoned struct {
	Projection string    `json:"projection"`
	Position   uint64    `json:"position"`
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	Stream     string    `json:"stream"`
	Reason     string    `json:"reason"`
	Data       string    `json:"data"`
	Metadata   string    `json:"metadata,omitempty"`
	At         time.Time `json:"poisoned_at"`
}

// Poisoned calls fn for each event the projection name skipped, in log
// order.
func (d *DB) Poisoned(ctx context.Context, name string, fn func(Poisoned) error) error {
	return d.scan(ctx, poisonPrefix(name), func(_, v []byte) error {
		var p Poisoned
		if err := json.Unmarshal(v, &p); err != nil {
			return &Error{Op: "poisoned", Projection: name, Err: errCorrupt}
		}
		return fn(p)
	})
}
