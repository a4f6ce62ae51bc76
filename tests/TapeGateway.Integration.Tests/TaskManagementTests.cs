using TapeGateway.Core.Scsi;
using TapeGateway.Integration.Tests.Infrastructure;
using TapeGateway.Integration.Tests.Initiator;
using TapeGateway.Iscsi.Pdu;

namespace TapeGateway.Integration.Tests;

/// <summary>Task management (RFC 7143 §11.5) against the real host; its own gateway because resets touch every nexus.</summary>
public sealed class TaskManagementTests(GatewayFixture fixture) : IClassFixture<GatewayFixture>
{
    private async Task<TestInitiator> ConnectReadyAsync(InitiatorOptions? options = null)
    {
        var ini = await TestInitiator.ConnectAsync(
            fixture.Endpoint, RunningGateway.DefaultTarget, (options ?? new InitiatorOptions()) with { Isid = TestIsids.Next() });
        await ini.ClearUnitAttentionsAsync();
        return ini;
    }

    [Fact]
    public async Task Abort_task_on_a_write_waiting_for_data_out_completes_and_the_session_goes_on()
    {
        await using var ini = await ConnectReadyAsync(new InitiatorOptions { ImmediateData = false, InitialR2T = true });
        var payload = new byte[64 * 1024];

        await using var write = await ini.StartCommandAsync(0, Cdb.Write10(100, 128), dataOut: payload, options: new CommandOptions { AnswerR2T = false });
        var r2t = await write.NextR2TAsync();
        Assert.Equal(IscsiOpcode.ReadyToTransfer, r2t.Opcode);

        var response = await ini.AbortTaskAsync(write);

        Assert.Equal(TaskManagementResponse.FunctionComplete, response);
        var finished = await Task.WhenAny(write.Completion, Task.Delay(TimeSpan.FromMilliseconds(500)));
        Assert.NotSame(write.Completion, finished);
        var tur = await ini.ExecuteAsync(0, Cdb.TestUnitReady());
        Assert.Equal(ScsiStatus.Good, tur.Status);
        Assert.Empty(ini.ProtocolViolations);
    }

    [Fact]
    public async Task Abort_task_for_a_task_that_already_completed_is_answered()
    {
        await using var ini = await ConnectReadyAsync();
        await using var tur = await ini.StartCommandAsync(0, Cdb.TestUnitReady());
        Assert.Equal(ScsiStatus.Good, (await tur.Completion).Status);

        var response = await ini.AbortTaskAsync(tur);

        // RFC 7143 §11.6.1: a completed task is "Task does not exist" (or function complete if the target
        // treats it as already aborted); either way the target answers.
        Assert.Contains(response, new[] { TaskManagementResponse.FunctionComplete, TaskManagementResponse.TaskDoesNotExist });
    }

    [Fact]
    public async Task Logical_unit_reset_gives_the_next_command_unit_attention_bus_device_reset()
    {
        await using var ini = await ConnectReadyAsync();

        var response = await ini.TaskManagementAsync(TaskManagementFunction.LogicalUnitReset, 0);
        var next = await ini.ExecuteAsync(0, Cdb.TestUnitReady());
        var after = await ini.ExecuteAsync(0, Cdb.TestUnitReady());

        Assert.Equal(TaskManagementResponse.FunctionComplete, response);
        Assert.Equal(ScsiStatus.CheckCondition, next.Status);
        Assert.Equal(new SenseCode(SenseCode.UnitAttention, 0x29, 0x03), next.SenseCode);
        Assert.Equal(ScsiStatus.Good, after.Status);
    }

    [Fact]
    public async Task Logical_unit_reset_gives_other_sessions_unit_attention_bus_device_reset()
    {
        await using var requester = await ConnectReadyAsync();
        await using var other = await ConnectReadyAsync();

        var response = await requester.TaskManagementAsync(TaskManagementFunction.LogicalUnitReset, 0);
        var next = await other.ExecuteAsync(0, Cdb.TestUnitReady());

        Assert.Equal(TaskManagementResponse.FunctionComplete, response);
        Assert.Equal(new SenseCode(SenseCode.UnitAttention, 0x29, 0x03), next.SenseCode);
    }

    [Fact]
    public async Task Logical_unit_reset_of_a_lun_that_does_not_exist_is_answered_lun_does_not_exist()
    {
        await using var ini = await ConnectReadyAsync();

        var response = await ini.TaskManagementAsync(TaskManagementFunction.LogicalUnitReset, 9);

        Assert.Equal(TaskManagementResponse.LunDoesNotExist, response);
    }
}
