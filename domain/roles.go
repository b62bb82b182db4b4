package domain

// Role is what a user may do beyond watching and commenting.
type Role string

const (
	RoleViewer  Role = "viewer" // everyone
	RoleAnalyst Role = "analyst"
	RoleAuditor Role = "auditor"
	RoleAdmin   Role = "admin"
)

// ParseRole accepts a known role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleViewer, RoleAnalyst, RoleAuditor, RoleModerator, RoleAdmin:
		return r, nil
	}
	return "", invalid("role", "must be one of viewer, analyst, auditor, moderator, admin")
}

// Roles is the set of roles a user holds.
type Roles map[Role]bool

// Can reports whether the holder of rs may act as r: admins may do all,
// and everyone is a viewer.
func (rs Roles) Can(r Role) bool { return r == RoleViewer || rs[r] || rs[RoleAdmin] }
