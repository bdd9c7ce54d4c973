package policies

import (
	_ "github.com/gobwas/glob"
	_ "github.com/lestrrat-go/jwx/v3/jwt"
	_ "github.com/google/cel-go/cel"
	_ "github.com/santhosh-tekuri/jsonschema/v6"
	_ "gopkg.in/yaml.v3"
)
