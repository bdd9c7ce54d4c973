// Package mapping turns what a caller presents into what the policy engine decides on.
// So far it verifies the JWTs of CheckResources requests (auxData) against JSON Web Key
// sets; everything in it is safe for concurrent use.
package mapping
