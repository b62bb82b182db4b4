package eventstore

import "encoding/json"

// validJSON accepts empty (no data) or well-formed JSON.
func validJSON(b []byte) bool { return len(b) == 0 || json.Valid(b) }
