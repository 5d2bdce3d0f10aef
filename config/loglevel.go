package config

import (
	"fmt"

	"github.com/rs/zerolog"
)

// LogLevelEnv names the variable that sets the log level, info by default.
const LogLevelEnv = "BRIDGE_LOG_LEVEL"

// LogLevel reads the log level from LogLevelEnv: info when it is unset or
// empty, an error naming the variable when it is no level. Parse reports
// that error as a problem, so that a misspelt level stops the service
// rather than leaving it logging at info unnoticed.
func LogLevel(lookupEnv func(string) (string, bool)) (zerolog.Level, error) {
	v, _ := lookupEnv(LogLevelEnv)
	if v == "" {
		return zerolog.InfoLevel, nil
	}
	level, err := zerolog.ParseLevel(v)
	if err != nil {
		return zerolog.InfoLevel, fmt.Errorf("environment variable %s must be one of trace, debug, info, warn, error, fatal, panic, disabled, got %q", LogLevelEnv, v)
	}
	return level, nil
}
