using Xunit;

namespace Reconciler.Engine.Tests.Infrastructure;

/// <summary>A fleet shared by the tests of one class (xUnit class fixture); derive with the size and host group.</summary>
public abstract class SshdFleetFixture(int hosts, string group) : IAsyncLifetime
{
    public SshdFleet Fleet { get; private set; } = null!;

    public async Task InitializeAsync() => Fleet = await SshdFleet.StartAsync(hosts, group);

    public async Task DisposeAsync() => await Fleet.DisposeAsync();
}
