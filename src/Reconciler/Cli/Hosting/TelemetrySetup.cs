using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Reconciler.Cli;

namespace Reconciler.Telemetry;

/// <summary>
/// Wires OpenTelemetry exporters for one CLI invocation; the core only emits (ReconcilerTelemetry). `--otel console`
/// prints spans and metrics to stdout; OTEL_EXPORTER_OTLP_ENDPOINT (with the other standard OTEL_* variables, read
/// by the exporter itself) sends them over OTLP. Disposing flushes both.
/// </summary>
public sealed class TelemetrySetup : IDisposable
{
    public const string OtlpEndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    private readonly TracerProvider? _traces;
    private readonly MeterProvider? _metrics;

    private TelemetrySetup(TracerProvider? traces, MeterProvider? metrics)
    {
        _traces = traces;
        _metrics = metrics;
    }

    /// <param name="otel">"console", "none" or null (OTLP only when the endpoint variable is set).</param>
    public static TelemetrySetup Start(string? otel, string serviceName = "reconciler")
    {
        var console = otel switch
        {
            null or "" or "none" => false,
            "console" => true,
            _ => throw new UserError($"--otel {otel}: expected 'console' or 'none' (OTLP is enabled by setting {OtlpEndpointVariable})."),
        };
        var otlp = otel != "none" && !string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(OtlpEndpointVariable));
        if (!console && !otlp) return new TelemetrySetup(null, null);

        var resource = ResourceBuilder.CreateDefault().AddService(serviceName);
        var traces = Sdk.CreateTracerProviderBuilder().SetResourceBuilder(resource).AddSource(ReconcilerTelemetry.Name);
        var metrics = Sdk.CreateMeterProviderBuilder().SetResourceBuilder(resource).AddMeter(ReconcilerTelemetry.Name);
        if (console)
        {
            traces.AddConsoleExporter();
            metrics.AddConsoleExporter();
        }
        if (otlp)
        {
            traces.AddOtlpExporter();
            metrics.AddOtlpExporter();
        }
        return new TelemetrySetup(traces.Build(), metrics.Build());
    }

    public void Dispose()
    {
        _traces?.ForceFlush(5000);
        _metrics?.ForceFlush(5000);
        _traces?.Dispose();
        _metrics?.Dispose();
    }
}
