package envoytest

import (
	"fmt"
	"sort"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	filev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// accessLogFormat is the JSON line written per request; AccessLogEntry has
// the matching fields.
var accessLogFormat = map[string]any{
	"method":     "%REQ(:METHOD)%",
	"path":       "%REQ(:PATH)%",
	"status":     "%RESPONSE_CODE%",
	"details":    "%RESPONSE_CODE_DETAILS%",
	"flags":      "%RESPONSE_FLAGS%",
	"request_id": "%REQ(X-REQUEST-ID)%",
	"upstream":   "%UPSTREAM_HOST%",
	"ext_authz":  "%DYNAMIC_METADATA(" + ExtAuthzFilterName + ")%",
}

func buildHCM(c Config, accessLogPath string) (*hcmv3.HttpConnectionManager, error) {
	vhost, err := buildVirtualHost(c)
	if err != nil {
		return nil, err
	}
	authzAny, err := toAny(buildExtAuthz(c.ExtAuthz))
	if err != nil {
		return nil, err
	}
	routerAny, err := toAny(&routerv3.Router{})
	if err != nil {
		return nil, err
	}
	logAny, err := buildAccessLog(accessLogPath)
	if err != nil {
		return nil, err
	}
	hcm := &hcmv3.HttpConnectionManager{
		StatPrefix: c.StatPrefix,
		CodecType:  hcmv3.HttpConnectionManager_AUTO,
		RouteSpecifier: &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: &routev3.RouteConfiguration{
			Name:         "local",
			VirtualHosts: []*routev3.VirtualHost{vhost},
		}},
		HttpFilters: []*hcmv3.HttpFilter{
			{Name: ExtAuthzFilterName, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: authzAny}},
			{Name: "envoy.filters.http.router", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: routerAny}},
		},
		AccessLog: []*accesslogv3.AccessLog{{
			Name:       "envoy.access_loggers.file",
			ConfigType: &accesslogv3.AccessLog_TypedConfig{TypedConfig: logAny},
		}},
		NormalizePath: wrapperspb.Bool(c.Paths.NormalizePath),
		MergeSlashes:  c.Paths.MergeSlashes,
	}
	if name := c.Paths.EscapedSlashes; name != "" {
		v, ok := hcmv3.HttpConnectionManager_PathWithEscapedSlashesAction_value[name]
		if !ok {
			return nil, fmt.Errorf("envoytest: unknown EscapedSlashes action %q", name)
		}
		hcm.PathWithEscapedSlashesAction = hcmv3.HttpConnectionManager_PathWithEscapedSlashesAction(v)
	}
	return hcm, nil
}

func buildExtAuthz(a ExtAuthz) *extauthzv3.ExtAuthz {
	svc := &corev3.GrpcService{
		TargetSpecifier: &corev3.GrpcService_EnvoyGrpc_{EnvoyGrpc: &corev3.GrpcService_EnvoyGrpc{ClusterName: AuthzCluster}},
		Timeout:         durationpb.New(a.Timeout),
	}
	for _, k := range sortedKeys(a.InitialMetadata) {
		svc.InitialMetadata = append(svc.InitialMetadata, &corev3.HeaderValue{Key: k, Value: a.InitialMetadata[k]})
	}
	f := &extauthzv3.ExtAuthz{
		Services:                   &extauthzv3.ExtAuthz_GrpcService{GrpcService: svc},
		TransportApiVersion:        corev3.ApiVersion_V3,
		FailureModeAllow:           a.FailureModeAllow,
		FailureModeAllowHeaderAdd:  a.FailureModeAllowHeaderAdd,
		StatusOnError:              &typev3.HttpStatus{Code: typev3.StatusCode(a.StatusOnError)},
		MetadataContextNamespaces:  a.MetadataContextNamespaces,
		StatPrefix:                 a.FilterStatPrefix,
		EncodeRawHeaders:           a.EncodeRawHeaders,
		ValidateMutations:          a.ValidateMutations,
		ClearRouteCache:            a.ClearRouteCache,
		MaxDeniedResponseBodyBytes: a.MaxDeniedResponseBodyBytes,
	}
	if b := a.WithRequestBody; b != nil {
		f.WithRequestBody = &extauthzv3.BufferSettings{
			MaxRequestBytes:     b.MaxRequestBytes,
			AllowPartialMessage: b.AllowPartialMessage,
			PackAsBytes:         b.PackAsBytes,
		}
	}
	return f
}

func buildVirtualHost(c Config) (*routev3.VirtualHost, error) {
	vh := &routev3.VirtualHost{Name: "local", Domains: []string{"*"}}
	if len(c.VirtualHostContextExtensions) > 0 {
		perRoute, err := toAny(checkSettings(c.VirtualHostContextExtensions))
		if err != nil {
			return nil, err
		}
		vh.TypedPerFilterConfig = map[string]*anypb.Any{ExtAuthzFilterName: perRoute}
	}
	for i, r := range c.Routes {
		rt, err := buildRoute(c, r)
		if err != nil {
			return nil, fmt.Errorf("envoytest: Routes[%d]: %w", i, err)
		}
		vh.Routes = append(vh.Routes, rt)
	}
	return vh, nil
}

func buildRoute(c Config, r Route) (*routev3.Route, error) {
	var match *routev3.RouteMatch
	switch {
	case r.Prefix != "" && r.Path != "":
		return nil, fmt.Errorf("both Prefix and Path set")
	case r.Prefix != "":
		match = &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: r.Prefix}}
	case r.Path != "":
		match = &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Path{Path: r.Path}}
	default:
		return nil, fmt.Errorf("neither Prefix nor Path set")
	}
	rt := &routev3.Route{Match: match}
	if c.Upstream == "" {
		rt.Action = &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{
			Status: 200,
			Body:   &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: NoUpstreamBody}},
		}}
	} else {
		rt.Action = &routev3.Route_Route{Route: &routev3.RouteAction{
			ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: UpstreamCluster},
		}}
	}
	var perRoute *extauthzv3.ExtAuthzPerRoute
	switch {
	case r.DisableExtAuthz && len(r.ContextExtensions) > 0:
		return nil, fmt.Errorf("DisableExtAuthz with ContextExtensions")
	case r.DisableExtAuthz:
		perRoute = &extauthzv3.ExtAuthzPerRoute{Override: &extauthzv3.ExtAuthzPerRoute_Disabled{Disabled: true}}
	case len(r.ContextExtensions) > 0:
		perRoute = checkSettings(r.ContextExtensions)
	}
	if perRoute != nil {
		a, err := toAny(perRoute)
		if err != nil {
			return nil, err
		}
		rt.TypedPerFilterConfig = map[string]*anypb.Any{ExtAuthzFilterName: a}
	}
	return rt, nil
}

func checkSettings(ext map[string]string) *extauthzv3.ExtAuthzPerRoute {
	return &extauthzv3.ExtAuthzPerRoute{Override: &extauthzv3.ExtAuthzPerRoute_CheckSettings{
		CheckSettings: &extauthzv3.CheckSettings{ContextExtensions: ext},
	}}
}

func buildAccessLog(path string) (*anypb.Any, error) {
	format, err := structpb.NewStruct(accessLogFormat)
	if err != nil {
		return nil, fmt.Errorf("envoytest: access log format: %w", err)
	}
	return toAny(&filev3.FileAccessLog{
		Path: path,
		AccessLogFormat: &filev3.FileAccessLog_LogFormat{LogFormat: &corev3.SubstitutionFormatString{
			Format: &corev3.SubstitutionFormatString_JsonFormat{JsonFormat: format},
		}},
	})
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
