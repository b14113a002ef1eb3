// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title A WETH9-like wrapper of the chain's native coin for the dev chain's DEX pairs.
/// @notice Built on OpenZeppelin's ERC-20 rather than a copy of WETH9, but it emits WETH9's
///         Deposit/Withdrawal events with the same signatures, so the indexer's WETH handling is
///         exercised by the same logs as on mainnet.
contract WrappedEther is ERC20 {
    event Deposit(address indexed dst, uint256 wad);
    event Withdrawal(address indexed src, uint256 wad);

    constructor() ERC20("Wrapped Ether", "WETH") {}

    /// @notice Wraps plain transfers too, as WETH9 does.
    receive() external payable {
        deposit();
    }

    /// @notice Wraps msg.value for the caller.
    function deposit() public payable {
        _mint(msg.sender, msg.value);
        emit Deposit(msg.sender, msg.value);
    }

    /// @notice Unwraps `wad` of the caller's balance and sends the coins back.
    function withdraw(uint256 wad) external {
        // Burn first (reverts on an insufficient balance), pay last: no reentrancy window.
        _burn(msg.sender, wad);
        emit Withdrawal(msg.sender, wad);
        (bool sent,) = payable(msg.sender).call{value: wad}("");
        require(sent, "WrappedEther: send failed");
    }
}
