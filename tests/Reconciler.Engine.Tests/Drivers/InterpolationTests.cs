using System.Collections.Immutable;
using Reconciler.Drivers;
using Reconciler.Schema.Model;
using Xunit;

namespace Reconciler.Engine.Tests.Drivers;

public sealed class InterpolationTests
{
    private static readonly HostSpec Host = new("web-1", "10.0.0.5", 22, "deploy", null, null,
        ImmutableSortedDictionary<string, string>.Empty.Add("port", "8080").Add("quote", "it's"));

    private static readonly IReadOnlyDictionary<string, string> Vars = Interpolation.Variables(Host, "api", "1.5.0-rc.1-0123456789", "/srv/api");

    [Theory]
    [InlineData("curl http://${host.address}:${host.vars.port}/", "curl http://10.0.0.5:8080/")]
    [InlineData("${service.name}/${version}/${release.id}", "api/1.5.0-rc.1/1.5.0-rc.1-0123456789")]
    [InlineData("${release.path}", "/srv/api/releases/1.5.0-rc.1-0123456789")]
    [InlineData("${ host.name }", "web-1")]
    [InlineData("echo $HOME $${HOME} $", "echo $HOME ${HOME} $")]
    public void Text_expansion(string template, string expected) => Assert.Equal(expected, Interpolation.ExpandText(template, Vars));

    [Theory]
    [InlineData("./bin/restart ${host.vars.quote}", "./bin/restart 'it'\\''s'")]
    [InlineData("echo ${deploy.path}", "echo '/srv/api'")]
    public void Command_expansion_quotes_every_value(string template, string expected) =>
        Assert.Equal(expected, Interpolation.ExpandCommand(template, Vars));

    [Theory]
    [InlineData("${nope}", "unknown variable '${nope}'")]
    [InlineData("${host.vars.missing}", "unknown variable '${host.vars.missing}'")]
    [InlineData("echo ${host.name", "unterminated '${'")]
    public void Errors_name_the_problem(string template, string message) =>
        Assert.Contains(message, Assert.Throws<InterpolationException>(() => Interpolation.ExpandText(template, Vars)).Message);

    [Fact]
    public void Release_variables_are_unknown_without_a_release()
    {
        var hostOnly = Interpolation.Variables(Host, null, null, null);
        Assert.Throws<InterpolationException>(() => Interpolation.ExpandText("${release.id}", hostOnly));
    }

    [Theory]
    [InlineData("plain", "'plain'")]
    [InlineData("a'b", "'a'\\''b'")]
    [InlineData("$(x) `y` ; \n", "'$(x) `y` ; \n'")]
    public void Shell_quote(string value, string expected) => Assert.Equal(expected, Shell.Quote(value));
}
