package postgres_test
import ("testing"; "github.com/videologue/videologue/eventstore/postgres")
func TestMain(m *testing.M) { code := m.Run(); println(postgres.DebugStats()); _ = code }
