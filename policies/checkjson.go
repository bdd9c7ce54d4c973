package policies

import (
	"encoding/json"
)

// CheckJSON answers one CheckResources request given as JSON with the response JSON.
// A request that fails validation returns a *RequestError. This is the path `gatehouse
// check` runs for every input line.
func (s *Set) CheckJSON(data []byte, v JWTVerifier) ([]byte, error) {
	req, err := DecodeCheckResourcesRequest(data)
	if err != nil {
		return nil, err
	}
	inputs, err := req.Inputs(v)
	if err != nil {
		return nil, err
	}
	return json.Marshal(NewCheckResourcesResponse(req, s.Check(inputs)))
}
