// Package domain is what Videologue is about: users, videos, annotations
// pinned to a moment of a video, and viewers watching. It defines their
// events (past tense, with stable versioned type strings), the streams that
// hold them, and the rules that produce them. It imports the standard
// library only.
//
// Streams and identities:
//
//	users          UserRegistered, RoleGranted      user id    = revision + 1
//	               RoleRevoked, PasswordChanged
//	videos         VideoAdded                       video id   = revision + 1
//	video-<id>     AnnotationPosted, -Edited, -Deleted
//	                                                annotation id = revision + 1
//	viewers-<id>   ViewerJoined, ViewerLeft
//	nodes          NodeStarted, NodeHeartbeat (on KurrentDB, and in logs
//	               of earlier versions), NodeStopped
//
// Identities are derived from the revision of the creating event in its
// stream, so they are dense, increasing, and need no other counter.
// An annotation id increases within its video; it is what a client's
// last_seen_id refers to.
package domain
