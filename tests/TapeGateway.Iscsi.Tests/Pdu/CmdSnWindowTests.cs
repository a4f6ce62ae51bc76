using TapeGateway.Iscsi.Session;

namespace TapeGateway.Iscsi.Tests.Pdu;

/// <summary>IscsiSession.Admit: the CmdSN window of RFC 7143 §4.2.2.1, including the 2^32 wrap.</summary>
public class CmdSnWindowTests
{
    private static IscsiSession Session(uint initialCmdSn, int window) =>
        new(1, 0x0002_3D00_0001, "iqn.2026-11.org.test:initiator", null, SessionType.Discovery, null, 1, new SessionSettings(), initialCmdSn, window);

    [Fact]
    public void In_order_commands_advance_exp_cmd_sn_through_the_wrap()
    {
        var session = Session(0xFFFF_FFFE, 4);

        Assert.Equal(CmdSnCheck.Accept, session.Admit(0xFFFF_FFFE, immediate: false));
        Assert.Equal(CmdSnCheck.Accept, session.Admit(0xFFFF_FFFF, immediate: false));
        Assert.Equal(0u, session.ExpCmdSn);
        Assert.Equal(CmdSnCheck.Accept, session.Admit(0, immediate: false));
        Assert.Equal(1u, session.ExpCmdSn);
        Assert.Equal(4u, session.MaxCmdSn);
    }

    [Fact]
    public void Max_cmd_sn_wraps_when_the_window_crosses_zero()
    {
        var session = Session(0xFFFF_FFFE, 4);

        Assert.Equal(0xFFFF_FFFEu, session.ExpCmdSn);
        Assert.Equal(1u, session.MaxCmdSn);
    }

    [Fact]
    public void A_command_beyond_the_wrap_but_inside_the_window_is_a_gap_not_out_of_window()
    {
        var session = Session(0xFFFF_FFFF, 4);

        Assert.Equal(CmdSnCheck.Gap, session.Admit(1, immediate: false));
        Assert.Equal(CmdSnCheck.Gap, session.Admit(2, immediate: false));
        Assert.Equal(0xFFFF_FFFFu, session.ExpCmdSn);
    }

    [Fact]
    public void A_command_past_max_cmd_sn_across_the_wrap_is_out_of_window()
    {
        var session = Session(0xFFFF_FFFF, 4);

        Assert.Equal(CmdSnCheck.OutOfWindow, session.Admit(3, immediate: false));
        Assert.Equal(CmdSnCheck.OutOfWindow, session.Admit(0x7FFF_0000, immediate: false));
        Assert.Equal(0xFFFF_FFFFu, session.ExpCmdSn);
    }

    [Fact]
    public void An_already_used_cmd_sn_before_the_wrap_is_a_duplicate()
    {
        var session = Session(0xFFFF_FFFF, 4);
        session.Admit(0xFFFF_FFFF, immediate: false);
        session.Admit(0, immediate: false);

        Assert.Equal(CmdSnCheck.Duplicate, session.Admit(0xFFFF_FFFF, immediate: false));
        Assert.Equal(CmdSnCheck.Duplicate, session.Admit(0, immediate: false));
        Assert.Equal(CmdSnCheck.Duplicate, session.Admit(0xFFFF_FF00, immediate: false));
        Assert.Equal(1u, session.ExpCmdSn);
    }

    [Fact]
    public void Immediate_commands_are_accepted_without_advancing_exp_cmd_sn()
    {
        var session = Session(0xFFFF_FFFF, 4);

        Assert.Equal(CmdSnCheck.Accept, session.Admit(0xFFFF_FFFF, immediate: true));
        Assert.Equal(0xFFFF_FFFFu, session.ExpCmdSn);
        Assert.Equal(CmdSnCheck.Accept, session.Admit(0xFFFF_FFFF, immediate: false));
        Assert.Equal(0u, session.ExpCmdSn);
    }
}
