using Reconciler.Consul;
using Reconciler.State;
using Reconciler.State.Consul;
using Xunit;

namespace Reconciler.Engine.Tests.State;

/// <summary>
/// The store contract against Consul: a real agent when CONSUL_HTTP_ADDR is set (e.g. http://127.0.0.1:8500, token from
/// CONSUL_HTTP_TOKEN), otherwise the in-process <see cref="FakeConsulServer"/> on a fake clock.
/// </summary>
public sealed class ConsulStateStoreContractTests : StateStoreContract
{
    private FakeConsulServer? _fake;
    private Uri _address = null!;
    private string? _token;
    private readonly string _prefix = "reconciler-test/" + Guid.NewGuid().ToString("N")[..8];

    internal static Uri? RealAgent => Environment.GetEnvironmentVariable("CONSUL_HTTP_ADDR") is { Length: > 0 } a
        ? new Uri(a.Contains("://", StringComparison.Ordinal) ? a : "http://" + a) : null;

    protected override async Task StartBackendAsync()
    {
        if (RealAgent is { } real)
        {
            _address = real;
            _token = Environment.GetEnvironmentVariable("CONSUL_HTTP_TOKEN");
            return;
        }
        _fake = await FakeConsulServer.StartAsync(Time);
        _address = _fake.Address;
    }

    protected override IStateStore CreateStore() =>
        new ConsulStateStore(new ConsulClient(new ConsulClientOptions(_address, _token) { RetryBaseDelay = TimeSpan.FromMilliseconds(20) }), _prefix, Time);

    protected override async Task LetTimePassAsync(TimeSpan by, Func<Task<bool>> until)
    {
        if (_fake is not null)
        {
            Time.Advance(by);
            Assert.True(await until(), "the condition did not hold after the clock moved");
            return;
        }
        // A real agent runs on real time and may take up to twice a session's TTL (plus lock-delay) to invalidate it.
        Time.Advance(by);
        var deadline = DateTime.UtcNow + by * 2 + TimeSpan.FromSeconds(20);
        while (!await until())
        {
            Assert.True(DateTime.UtcNow < deadline, $"the real Consul agent did not reach the expected state within {by * 2}");
            await Task.Delay(TimeSpan.FromMilliseconds(500));
        }
    }

    protected override async Task StopBackendAsync()
    {
        if (_fake is not null) await _fake.DisposeAsync();
    }
}
