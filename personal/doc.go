// Package personal keeps the personal data in Videologue's log readable
// only while its owner exists: usernames, annotation bodies, client
// addresses and device descriptions are sealed with a key of their
// user's before they are appended, and erasing a user deletes that key
// (crypto-shredding). The log keeps the ciphertext, so its hash chain
// still verifies; nothing can read the text again.
//
// A sealed value is an ordinary JSON string, "sealed1:" followed by the
// unpadded URL-safe base64 of a fresh 12-byte nonce and the AES-256-GCM
// ciphertext. The associated data binds it to its user and its kind of
// field, so a value copied to another user's event does not open. A value
// without the prefix was written before sealing existed and reads as it
// is, until its user is erased.
//
// Keys live in a Store that can really delete (see personal/pebble and
// personal/postgres), wrapped by the Keyring with the deployment's data
// key (VIDEOLOGUE_DATA_KEY), so that a copy of the key store alone reads
// nothing.
package personal
