// Package paymentpb holds the Go code generated from
// pluginsdk/proto/tonewall/payment/v1/payment.proto. It is internal: plugin
// authors and the controller use the types in package pluginsdk instead.
package paymentpb

//go:generate protoc -I ../../proto --go_out=. --go_opt=module=github.com/tonewall/tonewall/pluginsdk/internal/paymentpb --go-grpc_out=. --go-grpc_opt=module=github.com/tonewall/tonewall/pluginsdk/internal/paymentpb tonewall/payment/v1/payment.proto
