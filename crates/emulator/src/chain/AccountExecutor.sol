// SPDX-License-Identifier: MIT
// Written for sesskey's emulator (not ModularAccountV2's code): what runs, in an EIP-7702
// account's own context, when the account calls its own execution functions (the owner's
// transaction to its own address, an op's call to its account). The emulator checks the caller
// first; this code only makes the calls, as the account does: in order, reverting with the first
// failing call's revert data, answering their return data.
pragma solidity 0.8.28;

contract AccountExecutor {
    struct Call {
        address target;
        uint256 value;
        bytes data;
    }

    function execute(address target, uint256 value, bytes calldata data)
        external
        payable
        returns (bytes memory result)
    {
        result = _call(target, value, data);
    }

    function executeBatch(Call[] calldata calls) external payable returns (bytes[] memory results) {
        results = new bytes[](calls.length);
        for (uint256 i = 0; i < calls.length; i++) {
            results[i] = _call(calls[i].target, calls[i].value, calls[i].data);
        }
    }

    function executeWithRuntimeValidation(bytes calldata data, bytes calldata)
        external
        payable
        returns (bytes memory)
    {
        return _call(address(this), 0, data);
    }

    function _call(address target, uint256 value, bytes calldata data) private returns (bytes memory) {
        (bool ok, bytes memory result) = target.call{value: value}(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(result, 32), mload(result))
            }
        }
        return result;
    }
}
